'use strict'
// Python functions: main(args), handler(event, context), zip actions with a helper module,
// failures, timeouts, logs and warm reuse.

const assert = require('node:assert/strict')
const { useServer, makeZip, rejection, annotation, parseLogs, CANARY_ENV } = require('./lib/hotrod')

const h = useServer('python')
const KIND = 'python:3.11'

async function create (name, code, extra = {}) {
  return h.ow.actions.create({ name, action: code, kind: KIND, ...extra })
}

function invokeResult (name, params = {}) {
  return h.ow.actions.invoke({ name, params, blocking: true, result: true })
}

function invokeRecord (name, params = {}) {
  return h.ow.actions.invoke({ name, params, blocking: true })
}

const texts = (record, stream) => parseLogs(record.logs).filter(l => l.stream === stream).map(l => l.text)

h.test('main(args) returning a dict, default parameters merged with invoke parameters', async () => {
  await create('py-main', `def main(args):
    return {"sum": args["a"] + args["b"], "who": args.get("who", "nobody")}
`, { params: { a: 1, b: 2, who: 'default' } })
  assert.deepEqual(await invokeResult('py-main', { b: 40, who: 'ada' }), { sum: 41, who: 'ada' })
  assert.deepEqual(await invokeResult('py-main'), { sum: 3, who: 'default' })
})

h.test('handler(event, context) is found without naming it and gets a context', async () => {
  await create('py-handler', `import os

def handler(event, context):
    return {
        "echo": event["msg"],
        "function_name": context.function_name,
        "activation_id": context.activation_id,
        "aws_request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "env_aid": os.environ.get("__OW_ACTIVATION_ID"),
        "ns": os.environ.get("__OW_NAMESPACE"),
        "action": os.environ.get("__OW_ACTION_NAME"),
        "canary": os.environ.get("${CANARY_ENV}"),
    }
`, { limits: { timeout: 20000 } })
  const rec = await invokeRecord('py-handler', { msg: 'hi' })
  assert.equal(rec.response.success, true)
  const r = rec.response.result
  assert.equal(r.echo, 'hi')
  assert.equal(r.activation_id, rec.activationId)
  assert.equal(r.aws_request_id, rec.activationId)
  assert.equal(r.env_aid, rec.activationId)
  assert.equal(r.ns, 'guest')
  assert.equal(r.action, '/guest/py-handler')
  assert.equal(r.canary, null, 'the server\'s environment leaked into the function')
  assert.match(r.function_name, /py-handler/)
  assert.ok(r.remaining > 0 && r.remaining <= 20000, `get_remaining_time_in_millis() = ${r.remaining}`)
  assert.equal(annotation(rec, 'kind'), KIND)
})

h.test('zip action: __main__.py importing a helper module', async () => {
  const zip = makeZip({
    '__main__.py': `import helper

def main(args):
    return {"greeting": helper.greet(args.get("name", "world"))}
`,
    'helper.py': `def greet(name):
    return "Hello, " + name + "!"
`
  })
  const created = await create('py-zip', zip)
  assert.equal(created.exec.binary, true)
  assert.deepEqual(await invokeResult('py-zip', { name: 'zip' }), { greeting: 'Hello, zip!' })
  const got = await h.ow.actions.get('py-zip')
  assert.ok(Buffer.from(got.exec.code, 'base64').equals(zip), 'the code returned must be the uploaded archive')
})

h.test('an exception is a developer error: the client rejects with 502 and the record', async () => {
  await create('py-raise', `def main(args):
    raise ValueError("bad value " + str(args.get("v")))
`)
  const err = await rejection(invokeResult('py-raise', { v: 3 }))
  assert.equal(err.statusCode, 502)
  const rec = err.error
  assert.match(rec.activationId, /^[0-9a-f]{32}$/)
  assert.equal(rec.response.status, 'action developer error')
  assert.equal(rec.response.statusCode, 2)
  assert.equal(rec.response.success, false)
  assert.equal(typeof rec.response.result.error, 'string')
  assert.match(rec.response.result.error, /bad value 3/)
})

h.test('a result that is not a dict is a developer error', async () => {
  await create('py-list', 'def main(args):\n    return [1, 2]\n')
  const err = await rejection(invokeResult('py-list'))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.statusCode, 2)
  assert.equal(err.error.response.result.error, 'The action did not return a dictionary.')
})

h.test('a result with "error" is an application error (502, statusCode 1)', async () => {
  await create('py-apperr', 'def main(args):\n    return {"error": "not found: " + args["id"]}\n')
  const err = await rejection(invokeResult('py-apperr', { id: 'x1' }))
  assert.equal(err.statusCode, 502)
  assert.equal(err.error.response.status, 'application error')
  assert.equal(err.error.response.statusCode, 1)
  assert.deepEqual(err.error.response.result, { error: 'not found: x1' })
  assert.match(err.message, /not found: x1/)
})

h.test('a function over its time limit is stopped and the next call works', async () => {
  await create('py-loop', `def main(args):
    while args.get("loop"):
        pass
    return {"ok": True}
`, { limits: { timeout: 1000 } })
  const err = await rejection(invokeRecord('py-loop', { loop: true }))
  assert.equal(err.statusCode, 502)
  const rec = err.error
  assert.equal(rec.response.statusCode, 2)
  assert.deepEqual(rec.response.result, { error: 'The action exceeded its time limits of 1000 milliseconds.' })
  assert.equal(annotation(rec, 'timeout'), true)
  assert.deepEqual(await invokeResult('py-loop', { loop: false }), { ok: true })
})

h.test('logs: print to stdout and stderr, two calls do not mix', async () => {
  await create('py-logs', `import sys
print("loading")

def main(args):
    n = args["n"]
    print("call %d line 1" % n)
    print("call %d to stderr" % n, file=sys.stderr)
    print("call %d line 2" % n)
    return {"n": n}
`)
  const first = await invokeRecord('py-logs', { n: 1 })
  const second = await invokeRecord('py-logs', { n: 2 })
  assert.deepEqual(texts(first, 'stdout'), ['loading', 'call 1 line 1', 'call 1 line 2'])
  assert.deepEqual(texts(second, 'stdout'), ['call 2 line 1', 'call 2 line 2'])
  assert.deepEqual(texts(first, 'stderr'), ['call 1 to stderr'])
  assert.deepEqual(texts(second, 'stderr'), ['call 2 to stderr'])
})

h.test('warm reuse: module state survives between calls and a new version starts fresh', async () => {
  const code = `calls = 0

def main(args):
    global calls
    calls += 1
    return {"calls": calls}
`
  await create('py-warm', code)
  const r1 = await invokeRecord('py-warm')
  const r2 = await invokeRecord('py-warm')
  assert.equal(r1.response.result.calls, 1)
  assert.equal(r2.response.result.calls, 2)
  assert.equal(typeof annotation(r1, 'initTime'), 'number')
  assert.equal(annotation(r2, 'initTime'), undefined)

  await h.ow.actions.update({ name: 'py-warm', action: code, kind: KIND })
  const r3 = await invokeRecord('py-warm')
  assert.equal(r3.version, '0.0.2')
  assert.equal(r3.response.result.calls, 1)
})

h.test('python:default runs Python 3', async () => {
  await h.ow.actions.create({ name: 'py-default', action: 'import sys\ndef main(args):\n    return {"major": sys.version_info[0]}\n', kind: 'python:default' })
  assert.deepEqual(await invokeResult('py-default'), { major: 3 })
})

h.test('exec.main names the entry point', async () => {
  await h.ow.actions.create({ name: 'py-custom-main', action: 'def main(args):\n    return {"via": "main"}\n\ndef go(args):\n    return {"via": "go", "x": args["x"]}\n', kind: KIND, exec: { main: 'go' } })
  assert.deepEqual(await invokeResult('py-custom-main', { x: 1 }), { via: 'go', x: 1 })
})
