'use strict'
// limits.concurrency with the openwhisk npm client: one Node.js instance serves N calls at once,
// each record with its own console lines; Python refuses concurrency > 1.

const assert = require('node:assert/strict')
const { useServer, rejection, annotation, parseLogs } = require('./lib/hotrod')

const h = useServer('concurrency')

const SLEEPER = `
globalThis.instanceId = globalThis.instanceId || Math.random().toString(36).slice(2)
async function main (p) {
  console.log('hello from ' + p.who)
  await new Promise(resolve => setTimeout(resolve, 400))
  return { instance: globalThis.instanceId, who: p.who }
}`

h.test('an action with limits.concurrency 3 serves 3 parallel calls on one instance', async () => {
  const created = await h.ow.actions.create({ name: 'conc3', action: SLEEPER, kind: 'nodejs:20', limits: { concurrency: 3, timeout: 20000 } })
  assert.equal(created.limits.concurrency, 3)
  const who = ['ann', 'bob', 'cyd']
  const records = await Promise.all(who.map(w => h.ow.actions.invoke({ name: 'conc3', params: { who: w }, blocking: true })))
  assert.equal(new Set(records.map(r => r.response.result.instance)).size, 1, 'one instance')
  assert.equal(records.filter(r => annotation(r, 'coldStart')).length, 1, 'one cold start')
  records.forEach((r, i) => {
    assert.equal(r.response.result.who, who[i])
    assert.deepEqual(parseLogs(r.logs).map(l => `${l.stream} ${l.text}`), [`stdout hello from ${who[i]}`])
  })
})

h.test('a Python action cannot have concurrency > 1', async () => {
  const err = await rejection(h.ow.actions.create({ name: 'py-conc', action: 'def main(a):\n    return a\n', kind: 'python:3.11', limits: { concurrency: 2 } }))
  assert.equal(err.statusCode, 400)
  assert.match(err.error.error, /does not support concurrency/)
})
