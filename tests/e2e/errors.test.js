'use strict'
// Errors as the openwhisk client surfaces them: 400, 401, 404, 409, 413.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const openwhisk = require('openwhisk')
const { useServer, client, rejection, poll } = require('./lib/hotrod')

const h = useServer('errors')

const OK = 'function main(p) { return { ok: true } }'

h.test('a wrong key is 401 on every route', async () => {
  await h.ow.actions.create({ name: 'err-target', action: OK, kind: 'nodejs:20' })
  const [uuid] = h.server.key.split(':')
  const wrongKey = client(h.server, `${uuid}:${crypto.randomBytes(32).toString('hex')}`)
  const unknownUser = client(h.server, `${crypto.randomUUID()}:${crypto.randomBytes(32).toString('hex')}`)
  for (const ow of [wrongKey, unknownUser]) {
    for (const call of [
      () => ow.actions.list(),
      () => ow.actions.get('err-target'),
      () => ow.actions.invoke({ name: 'err-target', blocking: true }),
      () => ow.actions.create({ name: 'err-intruder', action: OK, kind: 'nodejs:20' }),
      () => ow.actions.delete('err-target'),
      () => ow.activations.list()
    ]) {
      const err = await rejection(call())
      assert.equal(err.statusCode, 401)
      assert.equal(err.error.error, 'The supplied authentication is invalid')
    }
  }
  // Nothing happened.
  assert.deepEqual((await h.ow.actions.get('err-target')).name, 'err-target')
  assert.equal((await rejection(h.ow.actions.get('err-intruder'))).statusCode, 404)
})

h.test('another namespace is 404 (its existence does not leak)', async () => {
  const other = openwhisk({ apihost: h.server.url, api_key: h.server.key, namespace: 'someone-else' })
  const err = await rejection(other.actions.list())
  assert.equal(err.statusCode, 404)
  assert.equal(typeof err.error.error, 'string')
})

h.test('a missing action is 404 for get, invoke and delete', async () => {
  for (const call of [
    () => h.ow.actions.get('err-missing'),
    () => h.ow.actions.invoke({ name: 'err-missing', blocking: true }),
    () => h.ow.actions.invoke({ name: 'err-missing' }),
    () => h.ow.actions.delete('err-missing')
  ]) {
    const err = await rejection(call())
    assert.equal(err.statusCode, 404)
    assert.equal(err.error.error, 'The requested resource does not exist.')
    assert.equal(typeof err.error.code, 'string')
  }
})

h.test('creating an existing action without overwrite is 409', async () => {
  await h.ow.actions.create({ name: 'err-dup', action: OK, kind: 'nodejs:20' })
  const err = await rejection(h.ow.actions.create({ name: 'err-dup', action: OK, kind: 'nodejs:20' }))
  assert.equal(err.statusCode, 409)
  assert.equal(err.error.error, 'resource already exists')
  assert.match(err.message, /409/)
})

h.test('an invalid action name is 400', async () => {
  const err = await rejection(h.ow.actions.create({ name: '.hidden', action: OK, kind: 'nodejs:20' }))
  assert.equal(err.statusCode, 400)
})

h.test('an invoke payload over 1 MB is 413 and the server keeps serving', async () => {
  await h.ow.actions.create({ name: 'err-big', action: 'function main(p) { return { len: (p.data || "").length } }', kind: 'nodejs:20' })
  const data = 'x'.repeat(1024 * 1024 + 1)
  const err = await rejection(h.ow.actions.invoke({ name: 'err-big', blocking: true, params: { data } }))
  assert.equal(err.statusCode, 413, `expected HTTP 413, got ${err.statusCode}: ${err.message}`)
  assert.equal(typeof err.error.error, 'string')
  const nb = await rejection(h.ow.actions.invoke({ name: 'err-big', params: { data } }))
  assert.equal(nb.statusCode, 413, `non-blocking: expected HTTP 413, got ${nb.statusCode}: ${nb.message}`)
  assert.deepEqual(await h.ow.actions.invoke({ name: 'err-big', blocking: true, result: true, params: { data: 'abc' } }), { len: 3 })
  const records = await poll(() => h.ow.activations.list({ name: 'err-big', docs: true }), l => l.length >= 1)
  assert.deepEqual(records.map(r => r.response.result), [{ len: 3 }], 'a refused invoke must not run the function')
})
