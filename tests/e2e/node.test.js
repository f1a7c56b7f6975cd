'use strict'
// Node.js functions: the handler styles users write, zip actions with node_modules, failures,
// timeouts, logs and warm reuse.

const assert = require('node:assert/strict')
const { useServer, makeZip, rejection, annotation, parseLogs, CANARY_ENV } = require('./lib/hotrod')

const h = useServer('node')
const KIND = 'nodejs:20'

async function create (name, code, extra = {}) {
  return h.ow.actions.create({ name, action: code, kind: KIND, ...extra })
}

function invokeResult (name, params = {}) {
  return h.ow.actions.invoke({ name, params, blocking: true, result: true })
}

function invokeRecord (name, params = {}) {
  return h.ow.actions.invoke({ name, params, blocking: true })
}

const stdoutTexts = record => parseLogs(record.logs).filter(l => l.stream === 'stdout').map(l => l.text)

h.test('OpenWhisk style: function main(params) returning an object', async () => {
  await create('node-main', 'function main(params) { return { hello: params.name, n: params.n + 1 } }')
  assert.deepEqual(await invokeResult('node-main', { name: 'ada', n: 41 }), { hello: 'ada', n: 42 })
})

h.test('OpenWhisk style: main returning a Promise', async () => {
  await create('node-promise', `function main(params) {
    return new Promise(resolve => setTimeout(() => resolve({ later: params.v * 2 }), 20))
  }`)
  assert.deepEqual(await invokeResult('node-promise', { v: 21 }), { later: 42 })
})

h.test('Lambda style: exports.handler = async (event, context)', async () => {
  await create('node-lambda', `exports.handler = async (event, context) => ({
    echo: event.msg,
    functionName: context.functionName,
    activationId: context.activationId,
    awsRequestId: context.awsRequestId,
    remaining: context.getRemainingTimeInMillis()
  })`, { limits: { timeout: 20000 } })
  const rec = await invokeRecord('node-lambda', { msg: 'hi' })
  assert.equal(rec.response.success, true)
  const r = rec.response.result
  assert.equal(r.echo, 'hi')
  assert.equal(r.activationId, rec.activationId)
  assert.equal(r.awsRequestId, rec.activationId)
  assert.equal(typeof r.functionName, 'string')
  assert.match(r.functionName, /node-lambda/)
  assert.ok(r.remaining > 0 && r.remaining <= 20000, `getRemainingTimeInMillis() = ${r.remaining}`)
})

h.test('callback style: function (event, context, callback)', async () => {
  await create('node-callback', `exports.handler = function (event, context, callback) {
    setTimeout(() => callback(null, { payload: 'hi ' + event.who }), 10)
  }`)
  assert.deepEqual(await invokeResult('node-callback', { who: 'bob' }), { payload: 'hi bob' })
})

h.test('module.exports = fn is the entry point', async () => {
  await create('node-module-exports', 'module.exports = (p) => ({ got: p.x })')
  assert.deepEqual(await invokeResult('node-module-exports', { x: [1, 2] }), { got: [1, 2] })
})

h.test('the function sees __OW_ variables but not the server\'s environment', async () => {
  await create('node-env', `function main() {
    return { aid: process.env.__OW_ACTIVATION_ID, ns: process.env.__OW_NAMESPACE,
             name: process.env.__OW_ACTION_NAME, canary: process.env.${CANARY_ENV} || null }
  }`)
  const rec = await invokeRecord('node-env')
  assert.deepEqual(rec.response.result, { aid: rec.activationId, ns: 'guest', name: '/guest/node-env', canary: null })
})

h.test('zip action: package.json "main" and a dependency in node_modules', async () => {
  const zip = makeZip({
    'package.json': JSON.stringify({ name: 'padder', version: '1.0.0', main: 'lib/entry.js' }),
    'lib/entry.js': `const leftpad = require('leftpad')
exports.main = function (params) { return { padded: leftpad(params.s, 6, '*') } }
`,
    'node_modules/leftpad/package.json': JSON.stringify({ name: 'leftpad', version: '0.0.1', main: 'index.js' }),
    'node_modules/leftpad/index.js': `module.exports = function (s, n, c) {
  s = String(s); while (s.length < n) s = c + s; return s
}
`
  })
  await create('node-zip', zip)
  assert.deepEqual(await invokeResult('node-zip', { s: 'abc' }), { padded: '***abc' })
})

h.test('a thrown error is a developer error: the client rejects with 502 and the record', async () => {
  await create('node-throw', 'function main() { throw new Error("kaboom") }')
  const err = await rejection(invokeResult('node-throw'))
  assert.equal(err.statusCode, 502)
  const rec = err.error
  assert.match(rec.activationId, /^[0-9a-f]{32}$/)
  assert.equal(rec.name, 'node-throw')
  assert.equal(rec.response.success, false)
  assert.equal(rec.response.statusCode, 2)
  assert.equal(rec.response.status, 'action developer error')
  assert.equal(typeof rec.response.result.error, 'string')
  assert.match(rec.response.result.error, /kaboom/)
  assert.match(err.message, /502/)
})

h.test('a result that is not an object is a developer error', async () => {
  await create('node-number', 'function main() { return 42 }')
  const err = await rejection(invokeResult('node-number'))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.statusCode, 2)
  assert.equal(err.error.response.result.error, 'The action did not return a dictionary.')
})

h.test('a result with "error" is an application error (502, statusCode 1)', async () => {
  await create('node-apperr', 'function main(p) { return { error: "bad input: " + p.x } }')
  const err = await rejection(invokeResult('node-apperr', { x: 7 }))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.status, 'application error')
  assert.equal(err.error.response.statusCode, 1)
  assert.equal(err.error.response.success, false)
  assert.deepEqual(err.error.response.result, { error: 'bad input: 7' })
  assert.match(err.message, /bad input: 7/)
})

h.test('a rejected Promise and callback(err) are application errors with the message', async () => {
  await create('node-reject', 'exports.handler = async () => { throw new Error("nope") }')
  let err = await rejection(invokeResult('node-reject'))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.statusCode, 1)
  assert.deepEqual(err.error.response.result, { error: 'nope' })

  await create('node-cberr', 'exports.handler = (e, c, callback) => callback(new Error("cb failed"))')
  err = await rejection(invokeResult('node-cberr'))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.statusCode, 1)
  assert.deepEqual(err.error.response.result, { error: 'cb failed' })
})

h.test('a syntax error fails the activation and the action stays usable after a fix', async () => {
  await create('node-syntax', 'function main( { return {} }')
  const err = await rejection(invokeResult('node-syntax'))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.success, false)
  assert.notEqual(err.error.response.statusCode, 0)
  await h.ow.actions.update({ name: 'node-syntax', action: 'function main() { return { fixed: true } }', kind: KIND })
  assert.deepEqual(await invokeResult('node-syntax'), { fixed: true })
})

h.test('a function over its time limit is stopped and the next call works', async () => {
  await create('node-loop', 'function main(p) { if (p.loop) { while (true) {} } return { ok: true } }', { limits: { timeout: 1000 } })
  const started = Date.now()
  const err = await rejection(invokeRecord('node-loop', { loop: true }))
  const elapsed = Date.now() - started
  assert.equal(err.statusCode, 502)
  const rec = err.error
  assert.equal(rec.response.statusCode, 2)
  assert.equal(rec.response.status, 'action developer error')
  assert.deepEqual(rec.response.result, { error: 'The action exceeded its time limits of 1000 milliseconds.' })
  assert.equal(annotation(rec, 'timeout'), true)
  assert.ok(elapsed >= 900 && elapsed < 15000, `blocking call took ${elapsed} ms`)
  assert.deepEqual(await invokeResult('node-loop', { loop: false }), { ok: true })
})

h.test('logs: stdout and stderr lines are timestamped and two calls do not mix', async () => {
  await create('node-logs', `console.log('loading')
function main(p) {
  console.log('call ' + p.n + ' line 1')
  console.error('call ' + p.n + ' to stderr')
  console.log('call ' + p.n + ' line 2')
  return { n: p.n }
}`)
  const first = await invokeRecord('node-logs', { n: 1 })
  const second = await invokeRecord('node-logs', { n: 2 })

  const l1 = parseLogs(first.logs)
  const l2 = parseLogs(second.logs)
  assert.deepEqual(stdoutTexts(first), ['loading', 'call 1 line 1', 'call 1 line 2'])
  assert.deepEqual(stdoutTexts(second), ['call 2 line 1', 'call 2 line 2'])
  assert.deepEqual(l1.filter(l => l.stream === 'stderr').map(l => l.text), ['call 1 to stderr'])
  assert.deepEqual(l2.filter(l => l.stream === 'stderr').map(l => l.text), ['call 2 to stderr'])
  for (const l of [...l1, ...l2]) {
    assert.ok(!l.text.includes('XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'), 'the sentinel leaked into the logs')
    const t = Date.parse(l.time)
    assert.ok(Number.isFinite(t), `bad timestamp ${l.time}`)
  }
  for (const l of l2) {
    const t = Date.parse(l.time)
    assert.ok(t >= second.start - 1000 && t <= second.end + 1000, `log time ${l.time} outside [${second.start}, ${second.end}]`)
  }
})

h.test('warm reuse: module state survives between calls and a new version starts fresh', async () => {
  const code = 'let calls = 0\nfunction main() { calls++; return { calls } }'
  await create('node-warm', code)
  const r1 = await invokeRecord('node-warm')
  const r2 = await invokeRecord('node-warm')
  assert.equal(r1.response.result.calls, 1)
  assert.equal(r2.response.result.calls, 2)
  assert.equal(typeof annotation(r1, 'initTime'), 'number', 'the first call starts an instance')
  assert.equal(annotation(r2, 'initTime'), undefined, 'a warm call has no initTime')

  await h.ow.actions.update({ name: 'node-warm', action: code, kind: KIND })
  const r3 = await invokeRecord('node-warm')
  assert.equal(r3.version, '0.0.2')
  assert.equal(r3.response.result.calls, 1, 'a new version must run in a new instance')
  assert.equal(typeof annotation(r3, 'initTime'), 'number')
})

h.test('a payload just under 1 MB is delivered whole', async () => {
  await create('node-size', 'function main(p) { return { len: p.data.length, tail: p.data.slice(-3) } }')
  const data = 'x'.repeat(900 * 1024 - 3) + 'end'
  assert.deepEqual(await invokeResult('node-size', { data }), { len: data.length, tail: 'end' })
})

h.test('concurrent calls each get their own result and their own logs', async () => {
  await create('node-concurrent', `function main(p) {
  console.log('start ' + p.tag)
  return new Promise(resolve => setTimeout(() => { console.log('end ' + p.tag); resolve({ tag: p.tag }) }, 200))
}`)
  const tags = ['a', 'b', 'c', 'd']
  const records = await Promise.all(tags.map(tag => invokeRecord('node-concurrent', { tag })))
  assert.equal(new Set(records.map(r => r.activationId)).size, tags.length)
  records.forEach((rec, i) => {
    assert.deepEqual(rec.response.result, { tag: tags[i] })
    assert.deepEqual(stdoutTexts(rec), [`start ${tags[i]}`, `end ${tags[i]}`])
  })
})

h.test('unicode survives parameters, results and logs', async () => {
  await create('node-unicode', 'function main(p) { console.log("hi " + p.name); return { name: p.name, len: [...p.name].length } }')
  const name = 'Zoë 🚀 日本'
  const rec = await invokeRecord('node-unicode', { name })
  assert.deepEqual(rec.response.result, { name, len: 8 })
  assert.deepEqual(stdoutTexts(rec), [`hi ${name}`])
})

h.test('exec.main names the entry point', async () => {
  await h.ow.actions.create({ name: 'node-custom-main', action: 'function main() { return { via: "main" } }\nfunction go(p) { return { via: "go", x: p.x } }', kind: KIND, exec: { main: 'go' } })
  assert.equal((await h.ow.actions.get('node-custom-main')).exec.main, 'go')
  assert.deepEqual(await invokeResult('node-custom-main', { x: 1 }), { via: 'go', x: 1 })
})

h.test('logs over limits.logs are cut with a final truncation line', async () => {
  await create('node-chatty', `function main() {
  const line = 'y'.repeat(999)
  for (let i = 0; i < 2048; i++) console.log(line)
  return { printed: 2048 * 1000 }
}`, { limits: { logs: 1 } })
  const rec = await invokeRecord('node-chatty')
  assert.deepEqual(rec.response.result, { printed: 2048000 })
  const logs = parseLogs(rec.logs.slice(0, -1))
  const kept = logs.reduce((n, l) => n + Buffer.byteLength(l.text), 0)
  assert.ok(kept <= 1024 * 1024, `kept ${kept} bytes of log lines with a 1 MB limit`)
  assert.ok(kept >= 512 * 1024, `kept only ${kept} bytes of log lines with a 1 MB limit`)
  assert.match(rec.logs[rec.logs.length - 1], /truncat/i)
})
