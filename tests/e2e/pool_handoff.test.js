'use strict'
// More parallel calls than an action may have instances (16 by default) queue
// and are handed a freed instance one by one; through the openwhisk client every call still
// gets its own result and its own log line.

const assert = require('node:assert/strict')
const { useServer } = require('./lib/hotrod')

const h = useServer('pool-handoff')

h.test('calls beyond the per-action maximum wait their turn and keep their own result and logs', async () => {
  await h.ow.actions.create({
    name: 'handoff',
    action: "function main(p) { console.log('run ' + p.tag); return new Promise(r => setTimeout(() => r({ tag: p.tag }), p.ms)) }",
    kind: 'nodejs:20',
    limits: { memory: 128, timeout: 20000 }
  })
  const n = 24
  const records = await Promise.all(Array.from({ length: n }, (_, i) =>
    h.ow.actions.invoke({ name: 'handoff', blocking: true, params: { tag: `t${i}`, ms: 300 } })))
  records.forEach((record, i) => {
    assert.deepEqual(record.response.result, { tag: `t${i}` })
    assert.equal(record.logs.length, 1, JSON.stringify(record.logs))
    assert.ok(record.logs[0].endsWith(`stdout: run t${i}`), JSON.stringify(record.logs))
  })
})
