'use strict'
// Python zygote (`hotrod serve --python-zygote --stem-cells 0 --sandboxes-ahead 0`): with the official openwhisk
// client, Python actions cold-started by the zygote behave like any others (params, env, logs,
// zip code, warm reuse), and their records say `coldStart.zygote: true`. Needs root (the
// namespace sandbox); skipped otherwise.
const assert = require('node:assert/strict')
const { useServer, makeZip, annotation, parseLogs } = require('./lib/hotrod')

const isRoot = process.getuid && process.getuid() === 0
const h = useServer('zygote', { serveArgs: ['--python-zygote', '--stem-cells', '0', '--sandboxes-ahead', '0'] })
const KIND = 'python:3.11'

async function zygoteReady () {
  for (let i = 0; i < 300; i++) {
    if (/python zygote \d+ ready/.test(h.server.log())) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error('the python zygote did not come up:\n' + h.server.log())
}

h.test('a cold start through the zygote gets its params, env and logs; the next call is warm',
  { skip: !isRoot && 'needs root' }, async () => {
    await zygoteReady()
    await h.ow.actions.create({
      name: 'zy-main',
      kind: KIND,
      action: `import os
print("loaded")

def main(args):
    print("got", args["n"])
    return {"n": args["n"], "action": os.environ["__OW_ACTION_NAME"], "pid": os.getpid()}
`
    })
    const first = await h.ow.actions.invoke({ name: 'zy-main', params: { n: 1 }, blocking: true })
    assert.equal(first.response.success, true, JSON.stringify(first))
    // PID 2: the instance's own pid namespace, whose PID 1 is hotrod-init (docs/security.md, "Init").
    assert.deepEqual(first.response.result, { n: 1, action: '/guest/zy-main', pid: 2 })
    const cold = annotation(first, 'coldStart')
    assert.equal(cold.zygote, true, JSON.stringify(cold))
    assert.equal(cold.stemCell, false)
    assert.deepEqual(parseLogs(first.logs).map(l => l.text).sort(), ['got 1', 'loaded'])
    const second = await h.ow.actions.invoke({ name: 'zy-main', params: { n: 2 }, blocking: true })
    assert.equal(annotation(second, 'coldStart'), undefined)
    assert.deepEqual(parseLogs(second.logs).map(l => l.text), ['got 2'])
  })

h.test('a zip action cold-started by the zygote imports its own modules',
  { skip: !isRoot && 'needs root' }, async () => {
    await zygoteReady()
    const zip = await makeZip({ '__main__.py': 'import helper\n\ndef main(a):\n    return {"v": helper.V}\n',
      'helper.py': 'V = 7\n' })
    await h.ow.actions.create({ name: 'zy-zip', kind: KIND, action: zip })
    const rec = await h.ow.actions.invoke({ name: 'zy-zip', blocking: true })
    assert.equal(annotation(rec, 'coldStart').zygote, true)
    assert.deepEqual(rec.response.result, { v: 7 })
  })
