'use strict'
// Triggers, rules and the alarms feed through the official openwhisk npm client:
// ow.triggers.*, ow.rules.*, ow.triggers.invoke, and the records ow.activations.get shows.

const assert = require('node:assert/strict')
const { useServer, poll, rejection } = require('./lib/hotrod')

const h = useServer('triggers')

const ECHO = 'function main(params) { return { got: params } }'

async function record (id) {
  const rec = await poll(() => h.ow.activations.get({ name: id }).catch(e => e), r => !(r instanceof Error), 15000)
  assert.ok(!(rec instanceof Error), `no record for ${id}: ${rec && rec.message}`)
  return rec
}

h.test('triggers: create, get, update, list, delete', async () => {
  const created = await h.ow.triggers.create({
    name: 'crud', trigger: { parameters: [{ key: 'p', value: 1 }] }, annotations: { note: 'x' }
  })
  assert.equal(created.name, 'crud')
  assert.equal(created.version, '0.0.1')
  assert.deepEqual(created.parameters, [{ key: 'p', value: 1 }])
  const err = await rejection(h.ow.triggers.create({ name: 'crud' }))
  assert.equal(err.statusCode, 409)
  const updated = await h.ow.triggers.update({ name: 'crud', trigger: { parameters: [{ key: 'p', value: 2 }] } })
  assert.equal(updated.version, '0.0.2')
  const got = await h.ow.triggers.get({ name: 'crud' })
  assert.deepEqual(got.parameters, [{ key: 'p', value: 2 }])
  assert.deepEqual(got.rules, {})
  const list = await h.ow.triggers.list()
  assert.ok(list.some(t => t.name === 'crud'))
  await h.ow.triggers.delete({ name: 'crud' })
  assert.equal((await rejection(h.ow.triggers.get({ name: 'crud' }))).statusCode, 404)
})

h.test('rules: create, get with status, disable, enable, list, delete', async () => {
  await h.ow.actions.create({ name: 'r-echo', action: ECHO, kind: 'nodejs:20' })
  await h.ow.triggers.create({ name: 'r-trig' })
  const missing = await rejection(h.ow.rules.create({ name: 'bad', trigger: 'r-trig', action: 'no-such-action' }))
  assert.equal(missing.statusCode, 404)
  const rule = await h.ow.rules.create({ name: 'r1', trigger: 'r-trig', action: 'r-echo' })
  assert.equal(rule.status, 'active')
  assert.deepEqual(rule.trigger, { namespace: 'guest', name: 'r-trig' })
  assert.deepEqual(rule.action, { namespace: 'guest', name: 'r-echo' })
  await h.ow.rules.disable({ name: 'r1' })
  assert.equal((await h.ow.rules.get({ name: 'r1' })).status, 'inactive')
  await h.ow.rules.enable({ name: 'r1' })
  assert.equal((await h.ow.rules.get({ name: 'r1' })).status, 'active')
  assert.ok((await h.ow.rules.list()).some(r => r.name === 'r1'))
  const trig = await h.ow.triggers.get({ name: 'r-trig' })
  assert.equal(trig.rules['guest/r1'].status, 'active')
  await h.ow.rules.delete({ name: 'r1' })
  assert.equal((await rejection(h.ow.rules.get({ name: 'r1' }))).statusCode, 404)
})

h.test('ow.triggers.invoke runs each rule; records show logs and cause', async () => {
  await h.ow.actions.create({ name: 'f-echo', action: ECHO, kind: 'nodejs:20' })
  await h.ow.actions.create({ name: 'f-echo2', action: ECHO, kind: 'nodejs:20' })
  await h.ow.triggers.create({ name: 'f-trig', trigger: { parameters: [{ key: 'd', value: 'dflt' }] } })
  await h.ow.rules.create({ name: 'f1', trigger: 'f-trig', action: 'f-echo' })
  await h.ow.rules.create({ name: 'f2', trigger: '/_/f-trig', action: '/_/f-echo2' })

  const fired = await h.ow.triggers.invoke({ name: 'f-trig', params: { x: 1 } })
  assert.match(fired.activationId, /^[0-9a-f]{32}$/)
  const rec = await record(fired.activationId)
  assert.equal(rec.name, 'f-trig')
  assert.deepEqual(rec.response.result, { d: 'dflt', x: 1 })
  const lines = rec.logs.map(l => JSON.parse(l))
  assert.deepEqual(lines.map(l => l.rule).sort(), ['guest/f1', 'guest/f2'])
  for (const line of lines) {
    assert.equal(line.statusCode, 0)
    assert.equal(line.success, true)
    const caused = await record(line.activationId)
    assert.equal(caused.cause, fired.activationId)
    assert.equal(`guest/${caused.name}`, line.action)
    assert.deepEqual(caused.response.result, { got: { d: 'dflt', x: 1 } })
  }
})

h.test('ow.triggers.invoke with no active rule runs nothing (204)', async () => {
  await h.ow.triggers.create({ name: 'quiet' })
  const before = (await h.ow.activations.list({ limit: 200 })).length
  const reply = await h.ow.triggers.invoke({ name: 'quiet', params: { x: 1 } })
  assert.ok(!reply || !reply.activationId, `unexpected activation ${JSON.stringify(reply)}`)
  const after = (await h.ow.activations.list({ limit: 200 })).length
  assert.equal(after, before)
})

h.test('alarms feed via the trigger annotation fires on its cron schedule', async () => {
  await h.ow.actions.create({ name: 'a-echo', action: ECHO, kind: 'nodejs:20' })
  await h.ow.triggers.create({
    name: 'every-second',
    trigger: {
      annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }],
      parameters: [{ key: 'cron', value: '* * * * * *' }, { key: 'trigger_payload', value: { hello: 'alarm' } }]
    }
  })
  await h.ow.rules.create({ name: 'a1', trigger: 'every-second', action: 'a-echo' })
  const fires = await poll(() => h.ow.activations.list({ name: 'every-second', limit: 50 }), l => l.length >= 2, 10000)
  assert.ok(fires.length >= 2, `only ${fires.length} alarm fires`)
  const rec = await record(fires[0].activationId)
  const caused = await record(JSON.parse(rec.logs[0]).activationId)
  assert.deepEqual(caused.response.result, { got: { hello: 'alarm' } })
  await h.ow.triggers.delete({ name: 'every-second' })
  const bad = await rejection(h.ow.triggers.create({
    name: 'bad-alarm',
    trigger: { annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }], parameters: [{ key: 'cron', value: 'nope' }] }
  }))
  assert.equal(bad.statusCode, 400)
})
