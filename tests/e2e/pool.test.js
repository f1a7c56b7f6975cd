'use strict'
// The instance pool seen through the openwhisk client: a cold call served by a stem cell and a
// booted one carry the cold-start breakdown annotation; warm calls do not.

const assert = require('node:assert/strict')
const http = require('node:http')
const { useServer, annotation, poll } = require('./lib/hotrod')

const h = useServer('pool')

function metrics () {
  return new Promise((resolve, reject) => {
    http.get(`${h.server.url}/metrics`, res => {
      let body = ''
      res.on('data', c => { body += c })
      res.on('end', () => {
        const values = {}
        for (const line of body.split('\n')) {
          if (!line || line.startsWith('#')) continue
          const [name, value] = line.split(' ')
          values[name] = Number(value)
        }
        resolve(values)
      })
    }).on('error', reject)
  })
}

h.test('a cold call takes over a stem cell and the record says so', async () => {
  // The server runs with the default --stem-cells 2 (nodejs:20 and python:3.11).
  const ready = await poll(metrics, m => m.hotrod_pool_stem_cells >= 4, 20000)
  assert.ok(ready.hotrod_pool_stem_cells >= 4, JSON.stringify(ready))
  await h.ow.actions.create({
    name: 'pool-stem',
    action: 'function main(p) { return { who: process.env.__OW_ACTION_NAME } }',
    kind: 'nodejs:20'
  })
  const record = await h.ow.actions.invoke({ name: 'pool-stem', blocking: true })
  assert.deepEqual(record.response.result, { who: '/guest/pool-stem' })
  const cold = annotation(record, 'coldStart')
  assert.equal(cold.stemCell, true)
  assert.equal(cold.bootUs, 0)
  for (const key of ['queueUs', 'sandboxUs', 'codeLoadUs']) assert.ok(Number.isInteger(cold[key]) && cold[key] >= 0, key)
  assert.ok(Number.isInteger(annotation(record, 'initTime')))

  const warm = await h.ow.actions.invoke({ name: 'pool-stem', blocking: true })
  assert.equal(annotation(warm, 'coldStart'), undefined)
  assert.equal(annotation(warm, 'initTime'), undefined)

  const fetched = await h.ow.activations.get({ name: record.activationId })
  assert.deepEqual(annotation(fetched, 'coldStart'), cold)
})
