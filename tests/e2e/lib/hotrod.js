'use strict'
// Test harness: runs one real `hotrod serve` per test file and hands out openwhisk clients.
//
// useServer() registers before/after hooks on the calling test file and returns a handle:
//   h.ow            an openwhisk client with the guest key (valid after `before`)
//   h.server        {url, key, port, root, logPath}
//   h.test(name, [opts,] fn)   node:test's test() (the name prefixed with useServer's prefix),
//                              but a failure also prints the server's log lines written while
//                              that test ran.
//   h.restart()     stops the server (SIGTERM, must exit 0) and starts it on the same data.
// The server binary comes from HOTROD_BIN (default ../../build/hotrod relative to this directory).
// Set HOTROD_E2E_KEEP=1 to keep the temporary data directory and log after the run, and
// HOTROD_E2E_LOG_LEVEL (trace, debug...) to pass --log-level to the server.

const assert = require('node:assert/strict')
const { spawn, execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { before, after, test } = require('node:test')
const openwhisk = require('openwhisk')

const E2E_DIR = path.resolve(__dirname, '..')
const DEFAULT_BIN = path.resolve(E2E_DIR, '../../build/hotrod')
const STARTUP_TIMEOUT_MS = 15000
const STOP_GRACE_MS = 5000
const TEST_TIMEOUT_MS = 30000

// An environment variable the server inherits; functions must not see it (runtimes get a
// minimal, explicit environment).
const CANARY_ENV = 'HOTROD_E2E_CANARY'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function httpGet (url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

function readLog (logPath, fromOffset = 0) {
  try {
    const buf = fs.readFileSync(logPath)
    return buf.subarray(Math.min(fromOffset, buf.length)).toString('utf8')
  } catch (e) {
    return `(cannot read ${logPath}: ${e.message})`
  }
}

function logSize (logPath) {
  try { return fs.statSync(logPath).size } catch { return 0 }
}

// Starts `hotrod serve`. With `reuse` ({root, port, key} of a stopped server) it starts again
// on the same data directory, port and key (a restart); otherwise everything is fresh.
async function startServer (reuse = null, serveArgs = []) {
  const bin = process.env.HOTROD_BIN ? path.resolve(process.env.HOTROD_BIN) : DEFAULT_BIN
  if (!fs.existsSync(bin)) {
    throw new Error(`hotrod binary not found at ${bin} (set HOTROD_BIN)`)
  }
  const root = reuse ? reuse.root : fs.mkdtempSync(path.join(os.tmpdir(), 'hotrod-e2e-'))
  const dataDir = path.join(root, 'data')
  fs.mkdirSync(dataDir, { recursive: true })
  const logPath = path.join(root, 'server.log')
  const logFd = fs.openSync(logPath, 'a')
  const port = reuse ? reuse.port : await freePort()
  const key = reuse ? reuse.key : `${crypto.randomUUID()}:${crypto.randomBytes(32).toString('hex')}`
  const url = `http://127.0.0.1:${port}`

  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir]
  if (process.env.HOTROD_E2E_LOG_LEVEL) args.push('--log-level', process.env.HOTROD_E2E_LOG_LEVEL)
  args.push(...serveArgs)  // extra `hotrod serve` flags of a test file (useServer's option)
  const child = spawn(bin, args, {
    env: { ...process.env, HOTROD_GUEST_KEY: key, [CANARY_ENV]: 'leaked' },
    stdio: ['ignore', logFd, logFd]
  })
  fs.closeSync(logFd)
  let exited = null
  const exitPromise = new Promise(resolve => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited) })
  })
  const killOnExit = () => { if (!exited) child.kill('SIGKILL') }
  process.on('exit', killOnExit)

  const server = {
    url,
    port,
    key,
    root,
    logPath,
    bin,
    pid: child.pid,
    log: (fromOffset = 0) => readLog(logPath, fromOffset),
    logSize: () => logSize(logPath),
    exited: () => exited,
    async stop () {
      process.removeListener('exit', killOnExit)
      if (!exited) {
        child.kill('SIGTERM')
        let timer
        const grace = new Promise(resolve => { timer = setTimeout(resolve, STOP_GRACE_MS, 'timeout') })
        const first = await Promise.race([exitPromise, grace])
        clearTimeout(timer)
        if (first === 'timeout') {
          child.kill('SIGKILL')
          await exitPromise
          return { ...exited, forced: true }
        }
      }
      return exited
    },
    // Stops this server (it must stop cleanly) and starts it again on the same data.
    async restart () {
      const status = await this.stop()
      if (status.forced || status.code !== 0) {
        throw new Error(`hotrod did not stop cleanly on SIGTERM: ${JSON.stringify(status)}`)
      }
      return startServer({ root, port, key }, serveArgs)
    }
  }

  const deadline = Date.now() + STARTUP_TIMEOUT_MS
  let lastError = 'no attempt'
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`hotrod exited during start-up (${JSON.stringify(exited)}); log:\n${server.log()}`)
    }
    try {
      const res = await httpGet(`${url}/healthz`, 1000)
      if (res.status === 200) return server
      lastError = `GET /healthz -> ${res.status} ${res.body}`
    } catch (e) {
      lastError = e.message
    }
    await sleep(50)
  }
  await server.stop()
  throw new Error(`hotrod did not become healthy in ${STARTUP_TIMEOUT_MS} ms (${lastError}); log:\n${server.log()}`)
}

function client (server, apiKey = server.key) {
  return openwhisk({ apihost: server.url, api_key: apiKey, namespace: '_' })
}

function useServer (prefix = '', { serveArgs = [] } = {}) {
  const h = { server: null, ow: null, failures: 0 }

  before(async () => {
    h.server = await startServer(null, serveArgs)
    h.ow = client(h.server)
  })

  after(async () => {
    if (!h.server) return
    const status = await h.server.stop()
    const unclean = status && (status.forced || (status.code !== 0 && status.code !== null))
    if (h.failures > 0 || unclean || process.env.HOTROD_E2E_KEEP) {
      process.stderr.write(`hotrod e2e: server data and log kept in ${h.server.root}` +
        (unclean ? ` (server stop: ${JSON.stringify(status)})` : '') + '\n')
    } else {
      fs.rmSync(h.server.root, { recursive: true, force: true })
    }
  })

  h.restart = async () => {
    h.server = await h.server.restart()
    h.ow = client(h.server)
  }

  h.test = (name, opts, fn) => {
    if (typeof opts === 'function') { fn = opts; opts = {} }
    if (prefix) name = `${prefix}: ${name}`
    return test(name, { timeout: TEST_TIMEOUT_MS, ...opts }, async t => {
      const from = h.server ? h.server.logSize() : 0
      try {
        await fn(t)
      } catch (err) {
        h.failures++
        if (h.server) {
          const lines = h.server.log(from).split('\n')
          const tail = lines.slice(-200).join('\n')
          const text = `--- hotrod log during "${name}" (${h.server.logPath}) ---\n${tail}\n--- end of log ---`
          process.stderr.write(text + '\n')
        }
        throw err
      }
    })
  }
  return h
}

// Builds a zip archive from {relativePath: contents} with the `zip` command-line tool.
function makeZip (files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotrod-e2e-zip-'))
  try {
    for (const [rel, contents] of Object.entries(files)) {
      const p = path.join(dir, 'src', rel)
      fs.mkdirSync(path.dirname(p), { recursive: true })
      fs.writeFileSync(p, contents)
    }
    const out = path.join(dir, 'action.zip')
    execFileSync('zip', ['-q', '-r', '-X', out, '.'], { cwd: path.join(dir, 'src') })
    return fs.readFileSync(out)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// Retries fn while it rejects with HTTP 404 (records and logs are written off the hot path).
async function until404Gone (fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (e) {
      if (e.statusCode !== 404 || Date.now() > deadline) throw e
    }
    await sleep(50)
  }
}

// Retries fn until pred(value) holds; returns the last value either way.
async function poll (fn, pred, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (pred(v) || Date.now() > deadline) return v
    await sleep(50)
  }
}

// Awaits a promise that must reject; returns the error.
async function rejection (promise) {
  let value
  try {
    value = await promise
  } catch (e) {
    return e
  }
  assert.fail(`expected the call to fail, it returned ${JSON.stringify(value)}`)
}

function annotation (record, key) {
  const a = (record.annotations || []).find(x => x.key === key)
  return a === undefined ? undefined : a.value
}

// "<ISO-8601 time> stdout: <line>" (or stderr)
const LOG_LINE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z) (stdout|stderr): (.*)$/

function parseLogs (lines) {
  return lines.map(l => {
    const m = LOG_LINE.exec(l)
    if (!m) throw new Error(`log line not in "<ISO time> stdout|stderr: <line>" form: ${JSON.stringify(l)}`)
    return { time: m[1], stream: m[2], text: m[3] }
  })
}

// Calls `server`'s admin API (/api/v1/admin + apiPath) with the key it wrote under its data
// directory; rejects unless the answer is 200. Resolves to the JSON body.
async function adminCall (server, method, apiPath, body) {
  const key = fs.readFileSync(path.join(server.root, 'data', 'admin.key'), 'utf8').trim()
  const res = await fetch(`${server.url}/api/v1/admin${apiPath}`, {
    method,
    headers: { Authorization: 'Basic ' + Buffer.from(key).toString('base64'), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const json = await res.json()
  if (res.status !== 200) throw new Error(`admin ${method} ${apiPath}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

module.exports = {
  adminCall,
  useServer,
  startServer,
  client,
  makeZip,
  until404Gone,
  poll,
  rejection,
  annotation,
  parseLogs,
  sleep,
  httpGet,
  CANARY_ENV
}
