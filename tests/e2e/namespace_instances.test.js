'use strict'
// With the official openwhisk client: a namespace whose maxInstances limit is 1 runs
// two simultaneous calls one after the other; a namespace at the server's default runs them side
// by side. The limit is set through the admin API, the calls and records through the client.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { adminCall, useServer, client } = require('./lib/hotrod')

const h = useServer('nsinst')

const SLEEPY = 'function main() { return new Promise(r => setTimeout(() => r({ slept: true }), 1000)) }'

const admin = (method, apiPath, body) => adminCall(h.server, method, apiPath, body)

async function tenant (limits) {
  const ns = `inst-${crypto.randomBytes(4).toString('hex')}`
  await admin('PUT', `/namespaces/${ns}`)
  const { key } = await admin('POST', `/namespaces/${ns}/keys`)
  if (limits) await admin('PUT', `/namespaces/${ns}/limits`, limits)
  return client(h.server, key)
}

async function twoAtOnce (ow) {
  for (const name of ['a', 'b']) await ow.actions.create({ name, action: SLEEPY, kind: 'nodejs:20' })
  const records = await Promise.all(['a', 'b'].map(name => ow.actions.invoke({ name, blocking: true })))
  for (const r of records) assert.deepEqual(r.response.result, { slept: true })
  return records.sort((x, y) => x.start - y.start)
}

h.test('a namespace limited to one instance runs simultaneous calls one after the other', async () => {
  const [first, second] = await twoAtOnce(await tenant({ maxInstances: 1 }))
  assert.ok(second.start >= first.end, `second started at ${second.start}, first ended at ${first.end}`)
})

h.test('a namespace at the default runs them side by side', async () => {
  const [first, second] = await twoAtOnce(await tenant())
  assert.ok(second.start < first.end, `second started at ${second.start}, first ended at ${first.end}`)
})
