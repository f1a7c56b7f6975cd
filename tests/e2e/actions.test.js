'use strict'
// Action management through the openwhisk client: create, get, update, list, delete.

const assert = require('node:assert/strict')
const { useServer, makeZip, rejection } = require('./lib/hotrod')

const h = useServer('actions')

const HELLO = `function main(params) {
  return { greeting: (params.greeting || 'hello') + ', ' + (params.name || 'world') }
}`

h.test('namespaces.list returns the guest namespace', async () => {
  assert.deepEqual(await h.ow.namespaces.list(), ['guest'])
})

h.test('create returns the action without code, get returns it with code', async () => {
  const created = await h.ow.actions.create({ name: 'crud-hello', action: HELLO, kind: 'nodejs:20', annotations: { description: 'says hello' } })
  assert.equal(created.name, 'crud-hello')
  assert.equal(created.namespace, 'guest')
  assert.equal(created.version, '0.0.1')
  assert.equal(created.exec.kind, 'nodejs:20')
  assert.equal(created.exec.code, undefined, 'create must not echo the code')
  assert.deepEqual(created.limits, { timeout: 60000, memory: 256, logs: 10, concurrency: 1 })

  const got = await h.ow.actions.get('crud-hello')
  assert.equal(got.name, 'crud-hello')
  assert.equal(got.version, '0.0.1')
  assert.equal(got.exec.kind, 'nodejs:20')
  assert.equal(got.exec.binary, false)
  assert.equal(got.exec.code, HELLO)
  assert.ok(got.annotations.some(a => a.key === 'description' && a.value === 'says hello'), JSON.stringify(got.annotations))

  const noCode = await h.ow.actions.get({ name: 'crud-hello', code: false })
  assert.equal(noCode.name, 'crud-hello')
  assert.equal(noCode.exec.code, undefined)
})

h.test('create with the client default kind (nodejs:default) runs on Node.js', async () => {
  await h.ow.actions.create({ name: 'crud-default-kind', action: 'function main() { return { v: process.versions.node } }' })
  const got = await h.ow.actions.get('crud-default-kind')
  assert.match(got.exec.kind, /^nodejs:/)
  const res = await h.ow.actions.invoke({ name: 'crud-default-kind', blocking: true, result: true })
  assert.match(res.v, /^\d+\.\d+\.\d+$/)
})

h.test('create of an existing action without overwrite is 409; with overwrite it updates', async () => {
  await h.ow.actions.create({ name: 'crud-dup', action: HELLO, kind: 'nodejs:20' })
  const err = await rejection(h.ow.actions.create({ name: 'crud-dup', action: 'function main() { return {} }', kind: 'nodejs:20' }))
  assert.equal(err.statusCode, 409)
  assert.equal(err.error.error, 'resource already exists')
  assert.equal((await h.ow.actions.get('crud-dup')).exec.code, HELLO, 'a refused create must not change the code')

  const replaced = await h.ow.actions.create({ name: 'crud-dup', action: 'function main() { return { replaced: true } }', kind: 'nodejs:20', overwrite: true })
  assert.equal(replaced.version, '0.0.2')
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-dup', blocking: true, result: true }), { replaced: true })
})

h.test('update keeps omitted fields, bumps the version and sets parameters', async () => {
  await h.ow.actions.create({ name: 'crud-upd', action: HELLO, kind: 'nodejs:20', params: { name: 'ada' } })
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-upd', blocking: true, result: true }), { greeting: 'hello, ada' })

  // Only limits: code and parameters stay.
  const u1 = await h.ow.actions.update({ name: 'crud-upd', limits: { timeout: 5000 } })
  assert.equal(u1.version, '0.0.2')
  let got = await h.ow.actions.get('crud-upd')
  assert.equal(got.exec.code, HELLO, 'update without exec must keep the code')
  assert.equal(got.exec.kind, 'nodejs:20')
  assert.equal(got.limits.timeout, 5000)
  assert.deepEqual(got.parameters, [{ key: 'name', value: 'ada' }])

  // Only parameters: code stays, parameters set.
  const u2 = await h.ow.actions.update({ name: 'crud-upd', params: { name: 'grace', greeting: 'hi' } })
  assert.equal(u2.version, '0.0.3')
  got = await h.ow.actions.get('crud-upd')
  assert.equal(got.exec.code, HELLO)
  assert.equal(got.limits.timeout, 5000, 'update without limits must keep the limits')
  const params = Object.fromEntries(got.parameters.map(p => [p.key, p.value]))
  assert.deepEqual(params, { name: 'grace', greeting: 'hi' })
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-upd', blocking: true, result: true }), { greeting: 'hi, grace' })

  // Only code: parameters stay.
  const u3 = await h.ow.actions.update({ name: 'crud-upd', action: 'function main(p) { return { shout: p.greeting.toUpperCase() + " " + p.name } }', kind: 'nodejs:20' })
  assert.equal(u3.version, '0.0.4')
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-upd', blocking: true, result: true }), { shout: 'HI grace' })

  // Invoke parameters are merged over the defaults.
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-upd', blocking: true, result: true, params: { name: 'linus' } }), { shout: 'HI linus' })
})

h.test('a zip action: get returns the archive as base64 with binary true', async () => {
  const zip = makeZip({
    'package.json': JSON.stringify({ name: 'z', main: 'index.js' }),
    'index.js': 'exports.main = () => ({ zipped: true })\n'
  })
  const created = await h.ow.actions.create({ name: 'crud-zip', action: zip, kind: 'nodejs:20' })
  assert.equal(created.exec.binary, true)
  const got = await h.ow.actions.get('crud-zip')
  assert.equal(got.exec.binary, true)
  assert.equal(typeof got.exec.code, 'string')
  assert.ok(Buffer.from(got.exec.code, 'base64').equals(zip), 'the code returned must be the uploaded archive')
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-zip', blocking: true, result: true }), { zipped: true })
})

h.test('list is sorted by name, honours limit and skip, and carries no code', async () => {
  for (const n of ['list-c', 'list-a', 'list-b']) {
    await h.ow.actions.create({ name: n, action: HELLO, kind: 'nodejs:20' })
  }
  const all = await h.ow.actions.list({ limit: 0 })
  const names = all.map(a => a.name)
  assert.deepEqual(names, [...names].sort(), 'list must be sorted by name')
  for (const n of ['list-a', 'list-b', 'list-c', 'crud-hello']) assert.ok(names.includes(n), `${n} missing from ${names}`)
  for (const a of all) {
    assert.equal(a.namespace, 'guest')
    assert.equal(a.exec && a.exec.code, undefined, `list entry ${a.name} carries code`)
  }

  const page = await h.ow.actions.list({ limit: 2, skip: 1 })
  assert.deepEqual(page.map(a => a.name), names.slice(1, 3))
  const first = await h.ow.actions.list({ limit: 1 })
  assert.deepEqual(first.map(a => a.name), names.slice(0, 1))
})

h.test('delete returns the action; afterwards get, invoke and delete are 404', async () => {
  await h.ow.actions.create({ name: 'crud-del', action: HELLO, kind: 'nodejs:20' })
  // Warm an instance first: the re-created action below has the same name and version.
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-del', blocking: true, result: true }), { greeting: 'hello, world' })
  const deleted = await h.ow.actions.delete('crud-del')
  assert.equal(deleted.name, 'crud-del')

  const getErr = await rejection(h.ow.actions.get('crud-del'))
  assert.equal(getErr.statusCode, 404)
  assert.equal(getErr.error.error, 'The requested resource does not exist.')
  const invErr = await rejection(h.ow.actions.invoke({ name: 'crud-del', blocking: true }))
  assert.equal(invErr.statusCode, 404)
  const delErr = await rejection(h.ow.actions.delete('crud-del'))
  assert.equal(delErr.statusCode, 404)
  assert.ok(!(await h.ow.actions.list({ limit: 0 })).some(a => a.name === 'crud-del'))

  // The name can be used again, and calls run the new code, not a warm instance of the old one.
  const again = await h.ow.actions.create({ name: 'crud-del', action: 'function main() { return { again: true } }', kind: 'nodejs:20' })
  assert.equal(again.version, '0.0.1')
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-del', blocking: true, result: true }), { again: true })
})

h.test('invalid limits and unknown kinds are 400', async () => {
  const badTimeout = await rejection(h.ow.actions.create({ name: 'crud-bad', action: HELLO, kind: 'nodejs:20', limits: { timeout: 50 } }))
  assert.equal(badTimeout.statusCode, 400)
  const badKind = await rejection(h.ow.actions.create({ name: 'crud-bad', action: HELLO, kind: 'cobol:1' }))
  assert.equal(badKind.statusCode, 400)
  const missing = await rejection(h.ow.actions.get('crud-bad'))
  assert.equal(missing.statusCode, 404, 'a refused create must not leave an action behind')
})

h.test('an update may change the kind: a Node.js action becomes a Python one', async () => {
  await h.ow.actions.create({ name: 'crud-kind', action: 'function main() { return { lang: "js" } }', kind: 'nodejs:20' })
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-kind', blocking: true, result: true }), { lang: 'js' })
  await h.ow.actions.update({ name: 'crud-kind', action: 'def main(args):\n    return {"lang": "py"}\n', kind: 'python:3.11' })
  const got = await h.ow.actions.get('crud-kind')
  assert.equal(got.exec.kind, 'python:3.11')
  assert.equal(got.version, '0.0.2')
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-kind', blocking: true, result: true }), { lang: 'py' })
})

h.test('a zip action larger than 1 MB can be created and run', async () => {
  const blob = require('node:crypto').randomBytes(1536 * 1024) // incompressible
  const zip = makeZip({
    'index.js': 'const fs = require("fs")\nexports.main = () => ({ size: fs.statSync(__dirname + "/blob.bin").size })\n',
    'blob.bin': blob
  })
  assert.ok(zip.length > 1536 * 1024)
  await h.ow.actions.create({ name: 'crud-bigzip', action: zip, kind: 'nodejs:20' })
  assert.ok(Buffer.from((await h.ow.actions.get('crud-bigzip')).exec.code, 'base64').equals(zip))
  assert.deepEqual(await h.ow.actions.invoke({ name: 'crud-bigzip', blocking: true, result: true }), { size: blob.length })
})
