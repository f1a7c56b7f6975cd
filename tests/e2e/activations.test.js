'use strict'
// Invocations and activation records: the blocking record's shape, non-blocking calls,
// activations.list/get/logs/result.

const assert = require('node:assert/strict')
const { useServer, until404Gone, poll, annotation, parseLogs, rejection } = require('./lib/hotrod')

const h = useServer('activations')

const ECHO = `function main(params) {
  console.log('echo ' + Object.keys(params).sort().map(k => k + '=' + params[k]).join(' '))
  return { params }
}`

h.test('blocking invoke returns an OpenWhisk activation record', async () => {
  await h.ow.actions.create({ name: 'rec-echo', action: ECHO, kind: 'nodejs:20', params: { a: 1, b: 'default' } })
  const action = await h.ow.actions.get('rec-echo')

  const before = Date.now()
  const rec = await h.ow.actions.invoke({ name: 'rec-echo', blocking: true, params: { b: 'given', c: true } })
  const after = Date.now()

  assert.match(rec.activationId, /^[0-9a-f]{32}$/)
  assert.equal(rec.namespace, 'guest')
  assert.equal(rec.name, 'rec-echo')
  assert.equal(rec.version, '0.0.1')
  assert.equal(rec.subject, 'guest')
  assert.equal(typeof rec.start, 'number')
  assert.equal(typeof rec.end, 'number')
  assert.ok(rec.start >= before - 1000 && rec.start <= rec.end && rec.end <= after + 1000,
    `start ${rec.start} end ${rec.end} outside the call [${before}, ${after}]`)
  assert.equal(rec.duration, rec.end - rec.start)

  assert.deepEqual(rec.response, {
    status: 'success',
    statusCode: 0,
    success: true,
    result: { params: { a: 1, b: 'given', c: true } }
  })
  assert.equal(rec.statusCode, 0)

  const logs = parseLogs(rec.logs)
  assert.deepEqual(logs.map(l => `${l.stream}: ${l.text}`), ['stdout: echo a=1 b=given c=true'])

  assert.ok(Array.isArray(rec.annotations))
  assert.equal(annotation(rec, 'path'), 'guest/rec-echo')
  assert.equal(annotation(rec, 'kind'), 'nodejs:20')
  assert.deepEqual(annotation(rec, 'limits'), action.limits)
  assert.equal(annotation(rec, 'timeout'), false)
  const wait = annotation(rec, 'waitTime')
  assert.ok(Number.isInteger(wait) && wait >= 0, `waitTime ${wait}`)
  const init = annotation(rec, 'initTime')
  assert.ok(Number.isInteger(init) && init >= 0, `initTime ${init} on the first call`)

  const warm = await h.ow.actions.invoke({ name: 'rec-echo', blocking: true })
  assert.notEqual(warm.activationId, rec.activationId)
  assert.equal(annotation(warm, 'initTime'), undefined, 'initTime only when a new instance starts')
  assert.ok(Number.isInteger(annotation(warm, 'waitTime')))
  assert.deepEqual(warm.response.result, { params: { a: 1, b: 'default' } })
})

h.test('blocking invoke with result: true returns only the result', async () => {
  await h.ow.actions.create({ name: 'rec-result', action: 'function main(p) { return { x: p.x } }', kind: 'nodejs:20' })
  assert.deepEqual(await h.ow.actions.invoke({ name: 'rec-result', blocking: true, result: true, params: { x: 'y' } }), { x: 'y' })
})

h.test('non-blocking invoke returns an id at once; the record appears', async () => {
  await h.ow.actions.create({ name: 'rec-async', action: 'function main(p) { return new Promise(r => setTimeout(() => r({ done: p.tag }), 1500)) }', kind: 'nodejs:20' })
  const started = Date.now()
  const res = await h.ow.actions.invoke({ name: 'rec-async', params: { tag: 'nb' } })
  const elapsed = Date.now() - started
  assert.deepEqual(Object.keys(res), ['activationId'])
  assert.match(res.activationId, /^[0-9a-f]{32}$/)
  assert.ok(elapsed < 1000, `non-blocking invoke took ${elapsed} ms; it must not wait for the function`)

  const rec = await until404Gone(() => h.ow.activations.get(res.activationId), 15000)
  assert.equal(rec.activationId, res.activationId)
  assert.equal(rec.name, 'rec-async')
  assert.deepEqual(rec.response.result, { done: 'nb' })
  assert.equal(rec.response.success, true)
})

h.test('activations.get, logs and result of a finished activation', async () => {
  await h.ow.actions.create({ name: 'rec-parts', action: 'function main(p) { console.log("one"); console.log("two"); return { v: p.v } }', kind: 'nodejs:20' })
  const done = await h.ow.actions.invoke({ name: 'rec-parts', blocking: true, params: { v: 5 } })
  const id = done.activationId

  const rec = await until404Gone(() => h.ow.activations.get(id))
  assert.equal(rec.activationId, id)
  assert.deepEqual(rec.response, done.response)
  assert.deepEqual(rec.logs, done.logs)

  const logs = await h.ow.activations.logs(id)
  assert.deepEqual(Object.keys(logs), ['logs'])
  assert.deepEqual(parseLogs(logs.logs).map(l => l.text), ['one', 'two'])

  const result = await h.ow.activations.result(id)
  assert.deepEqual(result, { status: 'success', statusCode: 0, success: true, result: { v: 5 } })

  const missing = await rejection(h.ow.activations.get('0123456789abcdef0123456789abcdef'))
  assert.equal(missing.statusCode, 404)
})

h.test('activations.list filters by name, is newest first and honours limit', async () => {
  await h.ow.actions.create({ name: 'rec-list', action: 'function main(p) { return { i: p.i } }', kind: 'nodejs:20' })
  await h.ow.actions.create({ name: 'rec-other', action: 'function main() { return {} }', kind: 'nodejs:20' })
  const ids = []
  for (let i = 0; i < 3; i++) {
    ids.push((await h.ow.actions.invoke({ name: 'rec-list', blocking: true, params: { i } })).activationId)
    await h.ow.actions.invoke({ name: 'rec-other', blocking: true })
  }

  const listed = await poll(() => h.ow.activations.list({ name: 'rec-list' }), l => l.length >= 3)
  assert.deepEqual(listed.map(a => a.activationId), [...ids].reverse(), 'newest first, only rec-list')
  for (const a of listed) {
    assert.equal(a.name, 'rec-list')
    assert.equal(a.namespace, 'guest')
    assert.equal(typeof a.start, 'number')
    assert.equal(a.response && a.response.result, undefined, 'list entries carry no result without docs=true')
  }
  for (let k = 1; k < listed.length; k++) assert.ok(listed[k - 1].start >= listed[k].start)

  const newest = await h.ow.activations.list({ name: 'rec-list', limit: 1 })
  assert.deepEqual(newest.map(a => a.activationId), [ids[2]])

  const skipped = await h.ow.activations.list({ name: 'rec-list', limit: 1, skip: 1 })
  assert.deepEqual(skipped.map(a => a.activationId), [ids[1]])

  const withDocs = await h.ow.activations.list({ name: 'rec-list', limit: 1, docs: true })
  assert.deepEqual(withDocs[0].response.result, { i: 2 })

  const all = await h.ow.activations.list({ limit: 200 })
  assert.ok(all.some(a => a.name === 'rec-other'), 'an unfiltered list includes other actions')
})
