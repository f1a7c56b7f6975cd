'use strict'
// CloudEvents 1.0 ingress with the official `cloudevents` SDK: HTTP.binary, HTTP.structured and
// emitterFor/httpTransport against a trigger's /events path; the actions receive the event.

const assert = require('node:assert/strict')
const { CloudEvent, HTTP, Mode, emitterFor, httpTransport } = require('cloudevents')
const { useServer, poll } = require('./lib/hotrod')

const h = useServer('cloudevents')

const ECHO = 'function main(params) { return { got: params } }'

function authHeader () {
  return 'Basic ' + Buffer.from(h.server.key).toString('base64')
}

function eventsUrl (trigger) {
  return `${h.server.url}/api/v1/namespaces/_/events/${trigger}`
}

async function record (id) {
  const rec = await poll(() => h.ow.activations.get({ name: id }).catch(e => e), r => !(r instanceof Error), 15000)
  assert.ok(!(rec instanceof Error), `no record for ${id}`)
  return rec
}

// What the action saw for the trigger activation `id`.
async function seenByAction (id) {
  const rec = await record(id)
  const caused = await record(JSON.parse(rec.logs[0]).activationId)
  return caused.response.result.got
}

async function send (message, trigger = 'ce') {
  const res = await fetch(eventsUrl(trigger), {
    method: 'POST',
    headers: { ...message.headers, authorization: authHeader() },
    body: message.body
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null }
}

h.test('setup: a trigger with a rule', async () => {
  await h.ow.actions.create({ name: 'ce-echo', action: ECHO, kind: 'nodejs:20' })
  await h.ow.triggers.create({ name: 'ce' })
  await h.ow.rules.create({ name: 'ce-rule', trigger: 'ce', action: 'ce-echo' })
})

h.test('HTTP.binary: attributes and JSON data reach the action', async () => {
  const event = new CloudEvent({
    type: 'com.example.order', source: '/shop', subject: 'o-17', data: { items: 3 }, myext: 'value'
  })
  const res = await send(HTTP.binary(event))
  assert.equal(res.status, 202, JSON.stringify(res.body))
  const got = await seenByAction(res.body.activationId)
  assert.equal(got.id, event.id)
  assert.equal(got.type, 'com.example.order')
  assert.equal(got.source, '/shop')
  assert.equal(got.subject, 'o-17')
  assert.equal(got.specversion, '1.0')
  assert.equal(got.myext, 'value')
  assert.deepEqual(got.data, { items: 3 })
})

h.test('HTTP.structured: the event arrives as sent', async () => {
  const event = new CloudEvent({ type: 'com.example.s', source: 'urn:test', data: { nested: { a: [1, 2] } } })
  const res = await send(HTTP.structured(event))
  assert.equal(res.status, 202)
  const got = await seenByAction(res.body.activationId)
  assert.equal(got.id, event.id)
  assert.deepEqual(got.data, { nested: { a: [1, 2] } })
  assert.equal(got.time, event.time)
})

h.test('binary data goes as data_base64', async () => {
  const bytes = Buffer.from([0, 1, 2, 250, 255])
  const event = new CloudEvent({ type: 'com.example.bin', source: '/b', datacontenttype: 'application/octet-stream', data: bytes })
  const res = await send(HTTP.binary(event))
  assert.equal(res.status, 202)
  const got = await seenByAction(res.body.activationId)
  assert.deepEqual(Buffer.from(got.data_base64, 'base64'), bytes)
})

h.test('emitterFor(httpTransport) in binary and structured modes', async () => {
  const url = new URL(eventsUrl('ce'))
  for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
    const emit = emitterFor(httpTransport(url), { mode })
    const event = new CloudEvent({ type: 'com.example.emit', source: '/emitter', data: { mode } })
    const res = await emit(event, { headers: { authorization: authHeader() } })
    const body = JSON.parse(res.body)
    const got = await seenByAction(body.activationId)
    assert.equal(got.id, event.id)
    assert.deepEqual(got.data, { mode })
  }
})

h.test('an event without source is refused with 400 naming it', async () => {
  const res = await fetch(eventsUrl('ce'), {
    method: 'POST',
    headers: { authorization: authHeader(), 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id: '1', type: 't' })
  })
  assert.equal(res.status, 400)
  assert.match((await res.json()).error, /'source'/)
  const noAuth = await fetch(eventsUrl('ce'), { method: 'POST', headers: HTTP.binary(new CloudEvent({ type: 't', source: '/s' })).headers })
  assert.equal(noAuth.status, 401)
})
