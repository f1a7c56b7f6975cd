'use strict'
// State survives a clean restart (SIGTERM, then `hotrod serve` again on the same data directory).

const assert = require('node:assert/strict')
const { useServer, makeZip, poll } = require('./lib/hotrod')

const h = useServer('restart')

h.test('actions, code, versions and activation records survive a restart', async () => {
  await h.ow.actions.create({ name: 'keep-inline', action: 'function main(p) { console.log("ran " + p.n); return { n: p.n } }', kind: 'nodejs:20', params: { n: 1 } })
  await h.ow.actions.update({ name: 'keep-inline', params: { n: 2 } })
  const zip = makeZip({ '__main__.py': 'import helper\ndef main(args):\n    return {"v": helper.V}\n', 'helper.py': 'V = "zip"\n' })
  await h.ow.actions.create({ name: 'keep-zip', action: zip, kind: 'python:3.11' })

  const ids = []
  ids.push((await h.ow.actions.invoke({ name: 'keep-inline', blocking: true })).activationId)
  ids.push((await h.ow.actions.invoke({ name: 'keep-zip', blocking: true })).activationId)
  // A non-blocking call right before the stop: its record must not be lost.
  await h.ow.actions.create({ name: 'keep-async', action: 'function main() { return new Promise(r => setTimeout(() => r({ late: true }), 300)) }', kind: 'nodejs:20' })
  const late = (await h.ow.actions.invoke({ name: 'keep-async' })).activationId

  await h.restart()

  const inline = await h.ow.actions.get('keep-inline')
  assert.equal(inline.version, '0.0.2')
  assert.deepEqual(inline.parameters, [{ key: 'n', value: 2 }])
  const zipped = await h.ow.actions.get('keep-zip')
  assert.ok(Buffer.from(zipped.exec.code, 'base64').equals(zip))
  assert.deepEqual(await h.ow.actions.invoke({ name: 'keep-inline', blocking: true, result: true }), { n: 2 })
  assert.deepEqual(await h.ow.actions.invoke({ name: 'keep-zip', blocking: true, result: true }), { v: 'zip' })

  const first = await h.ow.activations.get(ids[0])
  assert.deepEqual(first.response.result, { n: 2 })
  assert.equal(first.logs.length, 1)
  assert.match(first.logs[0], / stdout: ran 2$/)
  assert.deepEqual((await h.ow.activations.result(ids[1])).result, { v: 'zip' })
  const lateRec = await h.ow.activations.get(late)
  assert.deepEqual(lateRec.response.result, { late: true }, 'a call in flight at SIGTERM must finish and be recorded')

  const listed = await poll(() => h.ow.activations.list({ limit: 200 }), l => l.length >= 5)
  for (const id of [...ids, late]) assert.ok(listed.some(a => a.activationId === id), `${id} missing after restart`)
})
