'use strict'
// Packages, bindings, packaged actions and sequences through the openwhisk npm client.

const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const path = require('node:path')
const { useServer, client, rejection, annotation, until404Gone } = require('./lib/hotrod')

const h = useServer('packages')

const ECHO = 'function main(params) { return { params } }'
const INC = 'function main(p) { return { n: (p.n || 0) + 1 } }'
const DOUBLE_PY = 'def main(a):\n    return {"n": a.get("n", 0) * 2}\n'

// A second namespace with its own key, written straight into the server's SQLite database (the
// store keeps the SHA-256 hex of the key). Python's sqlite3 does the write; Node 20 has none.
function addNamespace (server, ns) {
  const uuid = crypto.randomUUID()
  const secret = crypto.randomBytes(32).toString('hex')
  const hash = crypto.createHash('sha256').update(secret).digest('hex')
  const db = path.join(server.root, 'data', 'hotrod.db')
  execFileSync('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (sys.argv[2],))
db.execute("INSERT INTO credentials (uuid, ns, key_hash) VALUES (?, ?, ?)", (sys.argv[3], sys.argv[2], sys.argv[4]))
db.commit()
`, db, ns, uuid, hash])
  return client(server, `${uuid}:${secret}`)
}

h.test('packages.create/get/list/update/delete', async () => {
  const created = await h.ow.packages.create({ name: 'tools', package: { parameters: [{ key: 'p', value: 1 }] } })
  assert.equal(created.name, 'tools')
  assert.equal(created.namespace, 'guest')
  assert.equal(created.version, '0.0.1')
  assert.deepEqual(created.binding, {})

  await h.ow.actions.create({ name: 'tools/echo', action: ECHO, kind: 'nodejs:20' })
  const got = await h.ow.packages.get('tools')
  assert.deepEqual(got.actions.map(a => a.name), ['echo'])
  assert.deepEqual(got.parameters, [{ key: 'p', value: 1 }])

  const listed = await h.ow.packages.list()
  assert.ok(listed.some(p => p.name === 'tools'), JSON.stringify(listed))

  const updated = await h.ow.packages.update({ name: 'tools', package: { publish: true } })
  assert.equal(updated.version, '0.0.2')
  assert.equal(updated.publish, true)

  const err = await rejection(h.ow.packages.delete('tools'))
  assert.equal(err.statusCode, 409)
  assert.match(err.message, /Package not empty/)
  await h.ow.actions.delete('tools/echo')
  await h.ow.packages.delete('tools')
  assert.equal((await rejection(h.ow.packages.get('tools'))).statusCode, 404)
})

h.test('packaged action: created with ow.actions.create, invoked with package defaults', async () => {
  await h.ow.packages.create({ name: 'greet', package: { parameters: [{ key: 'greeting', value: 'hello' }] } })
  const a = await h.ow.actions.create({ name: 'greet/echo', action: ECHO, kind: 'nodejs:20' })
  assert.equal(a.namespace, 'guest/greet')
  assert.equal(a.name, 'echo')
  const res = await h.ow.actions.invoke({ name: 'greet/echo', params: { name: 'x' }, blocking: true, result: true })
  assert.deepEqual(res.params, { greeting: 'hello', name: 'x' })
  const all = await h.ow.actions.list({ limit: 200 })
  assert.ok(all.some(x => x.namespace === 'guest/greet' && x.name === 'echo'), JSON.stringify(all))
  const missing = await rejection(h.ow.actions.create({ name: 'nopkg/echo', action: ECHO, kind: 'nodejs:20' }))
  assert.equal(missing.statusCode, 404)
})

h.test('binding: parameters over the package; a shared package of another namespace', async () => {
  const other = addNamespace(h.server, 'e2eother')
  await other.packages.create({ name: 'lib', package: { publish: true, parameters: [{ key: 'who', value: 'lib' }] } })
  await other.actions.create({ name: 'lib/echo', action: ECHO, kind: 'nodejs:20' })

  const bound = await h.ow.packages.create({
    name: 'mylib',
    package: { binding: { namespace: 'e2eother', name: 'lib' }, parameters: [{ key: 'who', value: 'binding' }] }
  })
  assert.deepEqual(bound.binding, { namespace: 'e2eother', name: 'lib' })
  const res = await h.ow.actions.invoke({ name: 'mylib/echo', params: { x: 1 }, blocking: true })
  assert.deepEqual(res.response.result.params, { who: 'binding', x: 1 })
  assert.equal(annotation(res, 'path'), 'e2eother/lib/echo')
  assert.equal(annotation(res, 'binding'), 'guest/mylib')

  // Reading and invoking the shared package directly with the guest key.
  const shared = await h.ow.packages.get({ name: '/e2eother/lib' })
  assert.deepEqual(shared.actions.map(a => a.name), ['echo'])
  const direct = await h.ow.actions.invoke({ name: '/e2eother/lib/echo', blocking: true, result: true })
  assert.deepEqual(direct.params, { who: 'lib' })

  await other.packages.create({ name: 'private', package: {} })
  const denied = await rejection(h.ow.packages.create({ name: 'nope', package: { binding: { namespace: 'e2eother', name: 'private' } } }))
  assert.equal(denied.statusCode, 403)
  assert.equal((await rejection(h.ow.packages.get({ name: '/e2eother/private' }))).statusCode, 404)
})

h.test('final parameters cannot be overridden by the invoke', async () => {
  await h.ow.actions.create({
    name: 'frozen',
    action: ECHO,
    kind: 'nodejs:20',
    params: { mode: 'safe' },
    annotations: { final: true }
  })
  const err = await rejection(h.ow.actions.invoke({ name: 'frozen', params: { mode: 'unsafe' }, blocking: true }))
  assert.equal(err.statusCode, 400)
  assert.match(err.message, /Request defines parameters that are not allowed/)
})

h.test('sequence of Node and Python components: invoke, record, component activations', async () => {
  await h.ow.packages.create({ name: 'math' })
  await h.ow.actions.create({ name: 'inc', action: INC, kind: 'nodejs:20' })
  await h.ow.actions.create({ name: 'math/double', action: DOUBLE_PY, kind: 'python:3.11' })
  const seq = await h.ow.actions.create({ name: 'calc', sequence: ['/_/inc', '/_/math/double', '/_/inc'] })
  assert.deepEqual(seq.exec, { kind: 'sequence', components: ['/guest/inc', '/guest/math/double', '/guest/inc'] })

  const result = await h.ow.actions.invoke({ name: 'calc', params: { n: 1 }, blocking: true, result: true })
  assert.deepEqual(result, { n: 5 })

  const started = await h.ow.actions.invoke({ name: 'calc', params: { n: 2 } })
  const record = await until404Gone(() => h.ow.activations.get(started.activationId))
  assert.equal(record.response.result.n, 7)
  assert.equal(annotation(record, 'kind'), 'sequence')
  assert.equal(annotation(record, 'topmost'), true)
  assert.equal(record.logs.length, 3)
  for (const id of record.logs) {
    assert.match(id, /^[0-9a-f]{32}$/)
    const component = await until404Gone(() => h.ow.activations.get(id))
    assert.equal(component.cause, record.activationId)
  }
  const names = await Promise.all(record.logs.map(id => h.ow.activations.get(id).then(a => a.name)))
  assert.deepEqual(names, ['inc', 'double', 'inc'])

  const bad = await rejection(h.ow.actions.create({ name: 'broken', sequence: ['/_/does-not-exist'] }))
  assert.equal(bad.statusCode, 400)
  assert.match(bad.message, /Sequence component does not exist/)
})
