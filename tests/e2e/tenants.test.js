'use strict'
// Tenants with the official openwhisk client: isolation between namespaces, revoked keys,
// namespace limits as client errors, and a web action reached with plain fetch().

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { adminCall, useServer, client, rejection } = require('./lib/hotrod')

const h = useServer('tenants')

const HELLO = 'function main(p) { return { hello: p.name || "world" } }'

const admin = (method, apiPath, body) => adminCall(h.server, method, apiPath, body)

async function tenant (prefix, limits) {
  const ns = `${prefix}-${crypto.randomBytes(4).toString('hex')}`
  await admin('PUT', `/namespaces/${ns}`)
  const { key, uuid } = await admin('POST', `/namespaces/${ns}/keys`)
  if (limits) await admin('PUT', `/namespaces/${ns}/limits`, limits)
  return { ns, key, uuid, ow: client(h.server, key) }
}

h.test("a client of tenant A cannot see or touch tenant B's actions", async () => {
  const a = await tenant('a')
  const b = await tenant('b')
  await b.ow.actions.create({ name: 'b-private', action: HELLO, kind: 'nodejs:20' })
  assert.deepEqual((await a.ow.actions.list()).map(x => x.name), [])
  assert.deepEqual((await b.ow.actions.list()).map(x => x.name), ['b-private'])
  assert.deepEqual(await a.ow.namespaces.list(), [a.ns])
  const asA = client(h.server, a.key)
  for (const call of [
    () => asA.actions.get({ name: 'b-private', namespace: b.ns }),
    () => asA.actions.invoke({ name: 'b-private', namespace: b.ns, blocking: true }),
    () => asA.actions.delete({ name: 'b-private', namespace: b.ns }),
    () => asA.actions.list({ namespace: b.ns })
  ]) {
    const err = await rejection(call())
    assert.equal(err.statusCode, 404)
    assert.equal(err.error.error, 'The requested resource does not exist.')
  }
  assert.deepEqual(await b.ow.actions.invoke({ name: 'b-private', blocking: true, result: true }), { hello: 'world' })
})

h.test('a revoked key is rejected at once', async () => {
  const t = await tenant('rev')
  await t.ow.actions.list()
  await admin('DELETE', `/namespaces/${t.ns}/keys/${t.uuid}`)
  const err = await rejection(t.ow.actions.list())
  assert.equal(err.statusCode, 401)
})

h.test('a namespace limit surfaces as a 429 client error', async () => {
  const t = await tenant('lim', { concurrentInvocations: 0 })
  await t.ow.actions.create({ name: 'noop', action: HELLO, kind: 'nodejs:20' })
  const err = await rejection(t.ow.actions.invoke({ name: 'noop', blocking: true }))
  assert.equal(err.statusCode, 429)
  assert.equal(err.error.error, 'Too many concurrent requests in flight (count: 0, allowed: 0).')
  const limits = await (await fetch(`${h.server.url}/api/v1/namespaces/_/limits`, {
    headers: { Authorization: 'Basic ' + Buffer.from(t.key).toString('base64') }
  })).json()
  assert.equal(limits.concurrentInvocations, 0)
})

h.test('a web action answers fetch() without credentials', async () => {
  const t = await tenant('web')
  await t.ow.actions.create({
    name: 'greet',
    action: 'function main(p) { return { headers: { "X-Greeting": "yes" }, body: "<p>hi " + (p.name || "") + "</p>" } }',
    kind: 'nodejs:20',
    annotations: { 'web-export': true }
  })
  const res = await fetch(`${h.server.url}/api/v1/web/${t.ns}/default/greet?name=web`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /^text\/html/)
  assert.equal(res.headers.get('x-greeting'), 'yes')
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  assert.equal(await res.text(), '<p>hi web</p>')
  const json = await fetch(`${h.server.url}/api/v1/web/${t.ns}/default/greet.json`)
  assert.equal(json.status, 200)
  assert.deepEqual((await json.json()).headers, { 'X-Greeting': 'yes' })
})
