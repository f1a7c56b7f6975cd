// hotrod Node.js runtime shim (docs/runtimes.md is the contract).
//
// Started by the invoker as `node shim.js` with fd 3 a SOCK_STREAM unix socket carrying
// length-prefixed (4-byte big-endian) JSON frames. Requests and replies strictly alternate:
//   {"op":"init", ...} -> {"ok":true} | {"ok":false,"error":...}      (once)
//   {"op":"run", ...}  -> {"ok":true,"result":{...}} | {"ok":false,...} (many times)
//   {"op":"ping"}      -> {"ok":true}   (any time before init: the shim is up; stem cells)
// Before every run reply the sentinel line is written to stdout and stderr, after everything the
// function wrote, so the invoker can cut the log streams per activation.
//
// Concurrency (an init with "concurrency" > 1): after init the shim reads the channel
// asynchronously and runs every request as it arrives; each run carries an "id" that its reply
// echoes. There are no sentinels then: console.* lines are written "\x1e<id>\x1f<text>" for
// the run they were called in (AsyncLocalStorage), and output that is not tagged so cannot be
// attributed (docs/runtimes.md "Concurrency").
//
// Start-up cost and per-call overhead both matter, so the shim does its own I/O with the
// synchronous fs calls Node loads at boot: `net` alone costs ~3-4 ms to load and set up a socket,
// and a thread-pool fs.read adds a thread hop to every call. Between calls the shim blocks in
// read() on fd 3, returning to the event loop once after each reply (setImmediate) so that
// callbacks, timers and stream writes still make progress. Like a paused OpenWhisk container or
// a frozen Lambda sandbox, background work of a finished call resumes only with the next call.
'use strict';

const fs = require('fs');
const path = require('path');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n';
const CHANNEL = 3;
const MAX_FRAME = 64 * 1024 * 1024;
const NOT_A_DICT = 'The action did not return a dictionary.';

let entry = null;     // the user's function, set by a successful init
let current = null;   // the run in flight: {finish(reply)}; null between runs
// Concurrency > 1: set at init; then `inflight` holds every run's token by id and `als` tells
// which run a console call belongs to.
let concurrent = false;
let als = null;
const inflight = new Map();

// ---------------------------------------------------------------------------------------------
// Framing on fd 3: blocking reads and writes, one request at a time.

// Thrown out of the blocking read when the invoker closed the channel (serveNext catches it).
const CHANNEL_END = Symbol('channel end');

// Graceful stop (docs/runtimes.md): the invoker sends SIGTERM and closes the channel, and
// SIGKILLs what is left after a grace period. This listener comes first, so the function's own
// 'SIGTERM' listeners (called in the same emit) still run; the shim exits on the next turn of
// the event loop. The end of the channel exits the same way, one turn later, so that a SIGTERM
// that arrived while the shim was blocked in read() reaches those listeners first.
let exiting = false;
function exitSoon() {
  if (exiting) return;
  exiting = true;
  setImmediate(() => process.exit(0));
}
process.on('SIGTERM', exitSoon);

let sleeper = null;
// The invoker hands over blocking descriptors; should one be non-blocking anyway, back off
// briefly instead of failing (Node has no fcntl to clear O_NONBLOCK).
function backOff() {
  sleeper = sleeper || new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleeper, 0, 0, 1);
}

// One blocking read of up to len bytes into buf at off; returns how many arrived (> 0).
function readChannel(buf, off, len) {
  for (;;) {
    let got;
    try {
      got = fs.readSync(CHANNEL, buf, off, len, null);
    } catch (e) {
      if (e && e.code === 'EINTR') continue;
      if (e && e.code === 'EAGAIN') { backOff(); continue; }
      process.exit(0);  // the channel broke: nobody is left to answer
    }
    if (got === 0) throw CHANNEL_END;  // the invoker closed the channel: instance discarded
    return got;
  }
}

function readExact(buf, n) {
  for (let off = 0; off < n;) off += readChannel(buf, off, n - off);
}

// Writes all of buf to fd. A broken channel ends the instance (the invoker is gone); a broken
// log pipe only loses log output.
function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e && e.code === 'EINTR') continue;
      if (e && e.code === 'EAGAIN') { backOff(); continue; }
      if (fd === CHANNEL) process.exit(0);
      return;
    }
  }
}

// Requests usually arrive whole in one read (the invoker writes header and body at once), so
// the first read takes up to 64 KiB; a larger body is completed with readExact.
const inbox = Buffer.allocUnsafe(64 * 1024);
let inboxStart = 0;  // bytes of inbox[inboxStart, inboxEnd) are read but not yet consumed
let inboxEnd = 0;

function fillAtLeast(n) {
  if (inbox.length - inboxStart < n) {  // keep room to read into (n is at most 4 here)
    inbox.copy(inbox, 0, inboxStart, inboxEnd);
    inboxEnd -= inboxStart;
    inboxStart = 0;
  }
  while (inboxEnd - inboxStart < n) inboxEnd += readChannel(inbox, inboxEnd, inbox.length - inboxEnd);
}

// Blocks until the next request arrives, then handles it.
function serveNext() {
  try {
    readAndHandle();
  } catch (e) {
    if (e !== CHANNEL_END) throw e;
    setImmediate(exitSoon);  // after any pending SIGTERM's listeners (see exitSoon)
  }
}

function readAndHandle() {
  fillAtLeast(4);
  const n = inbox.readUInt32BE(inboxStart);
  inboxStart += 4;
  if (n > MAX_FRAME) {
    writeAll(2, Buffer.from(`hotrod shim: request frame of ${n} bytes exceeds the limit\n`));
    process.exit(70);
  }
  let text;
  const have = inboxEnd - inboxStart;
  if (have >= n) {
    text = inbox.toString('utf8', inboxStart, inboxStart + n);
    inboxStart += n;
  } else {
    const body = Buffer.allocUnsafe(n);
    inbox.copy(body, 0, inboxStart, inboxEnd);
    inboxStart = inboxEnd = 0;
    readExact(body.subarray(have), n - have);
    text = body.toString('utf8');
  }
  if (inboxStart === inboxEnd) inboxStart = inboxEnd = 0;
  try {
    handle(text);
  } catch (e) {
    // User code cannot get here (run and init catch it): this is a shim bug. Exiting is the
    // one answer the invoker cannot miss; hanging or a second reply would be worse.
    logError(e);
    process.exit(70);
  }
}

// Sends one reply frame; `reply` is an object or an already serialised JSON text.
function send(reply) {
  let text = typeof reply === 'string' ? reply : JSON.stringify(reply);
  let n = Buffer.byteLength(text);
  if (n > MAX_FRAME) {
    text = JSON.stringify({ ok: false, error: `The action produced a result of ${n} bytes, more than the ${MAX_FRAME} allowed.` });
    n = Buffer.byteLength(text);
  }
  const frame = Buffer.allocUnsafe(4 + n);
  frame.writeUInt32BE(n, 0);
  frame.write(text, 4, 'utf8');
  if (concurrent) {
    channel.write(frame);
    return;
  }
  writeAll(CHANNEL, frame);
  if (entry && concurrentWanted) startConcurrent();  // the successful init's reply went out
  else setImmediate(serveNext);
}

// ---------------------------------------------------------------------------------------------
// Concurrency > 1: asynchronous framing, tagged console output.

let concurrentWanted = false;  // the init asked for concurrency
let channel = null;

function startConcurrent() {
  concurrent = true;
  const net = require('net');
  channel = new net.Socket({ fd: CHANNEL, readable: true, writable: true });
  let pending = inbox.subarray(inboxStart, inboxEnd);  // nothing, unless requests came early
  pending = Buffer.from(pending);
  const drain = () => {
    while (pending.length >= 4) {
      const n = pending.readUInt32BE(0);
      if (n > MAX_FRAME) {
        writeAll(2, Buffer.from(`hotrod shim: request frame of ${n} bytes exceeds the limit\n`));
        process.exit(70);
      }
      if (pending.length < 4 + n) break;
      const text = pending.toString('utf8', 4, 4 + n);
      pending = pending.subarray(4 + n);
      try {
        handle(text);
      } catch (e) {
        logError(e);
        process.exit(70);
      }
    }
  };
  channel.on('data', (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    drain();
  });
  channel.on('end', () => setImmediate(exitSoon));
  channel.on('error', () => process.exit(0));
  drain();
}

// Writes text to fd as lines tagged with the run in whose context it is called.
function writeTagged(fd, text) {
  const store = als && als.getStore();
  if (!store) return writeAll(fd, Buffer.from(text + '\n'));
  const tag = `\x1e${store.id}\x1f`;
  writeAll(fd, Buffer.from(tag + text.split('\n').join('\n' + tag) + '\n'));
}

function wrapConsole() {
  const { AsyncLocalStorage } = require('async_hooks');
  const util = require('util');
  als = new AsyncLocalStorage();
  const to = (fd) => (...args) => writeTagged(fd, util.format(...args));
  console.log = console.info = console.debug = to(1);
  console.warn = console.error = to(2);
  console.dir = (obj, options) => writeTagged(1, util.inspect(obj, options));
  console.trace = (...args) => {
    const err = { name: 'Trace', message: util.format(...args) };
    Error.captureStackTrace(err, console.trace);
    writeTagged(2, err.stack);
  };
}

function handle(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (e) {
    return send({ ok: false, error: `Malformed request: ${e.message}` });
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return send({ ok: false, error: 'Malformed request: not a JSON object.' });
  }
  if (msg.op === 'run') return run(msg);
  if (msg.op === 'ping') {
    // A stem cell warms the init path (module wrapper, compiler) on a throw-away module, so
    // that the real init compiles only the user's code.
    if (msg.warm === true && !entry) compileInline('function main() { return {}; }', '/tmp/.hotrod-warm.js', ['main', 'handler']);
    return send({ ok: true });
  }
  if (msg.op === 'init') {
    init(msg).then(send, (e) => send({ ok: false, error: `Initialization has failed due to: ${describe(e)}` }));
    return;
  }
  send({ ok: false, error: `Unknown op ${JSON.stringify(msg.op)}.` });
}

// ---------------------------------------------------------------------------------------------
// init: load the code once and find the entry point.

function setEnv(env) {
  if (env === null || typeof env !== 'object') return;
  for (const k of Object.keys(env)) {
    const v = env[k];
    try {
      process.env[k] = typeof v === 'string' ? v : JSON.stringify(v);
    } catch (_) { /* a name the OS refuses: skip it rather than fail the call */ }
  }
}

const RESERVED = new Set(('break case catch class const continue debugger default delete do else ' +
  'enum export extends false finally for function if import in instanceof new null return super ' +
  'switch this throw true try typeof var void while with yield let static implements interface ' +
  'package private protected public await arguments eval undefined').split(' '));

// True when `name` can be looked up as a local binding with `typeof name` in generated code.
function isPlainIdentifier(name) {
  return /^[A-Za-z_$][\w$]*$/.test(name) && !RESERVED.has(name);
}

// Inline (OpenWhisk) code: the entry may be a top-level `function main` that is not exported.
// The source is compiled as a CommonJS module (so require/module/exports/__filename/__dirname
// behave as in any module file) with a trailing `return` of the entry names' local bindings;
// Module#_compile returns what the module wrapper returns. `module.constructor` is the Module
// class: using it spares loading the public 'module' and 'vm' modules.
function loadInline(file, names) {
  return compileInline(fs.readFileSync(file, 'utf8'), file, names);
}

function compileInline(src, file, names) {
  if (src.startsWith('#!')) src = '//' + src.slice(2);  // a hashbang is only legal at offset 0
  const lookups = names.filter(isPlainIdentifier)
    .map((n) => `${JSON.stringify(n)}: typeof ${n} === 'undefined' ? undefined : ${n}`).join(', ');
  const Module = module.constructor;
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  // On a new line after the user's code: a trailing line comment cannot swallow it.
  const locals = mod._compile(`${src}\n;return {${lookups}};\n`, file);
  mod.loaded = true;
  return { exported: mod.exports, locals: locals !== null && typeof locals === 'object' ? locals : {} };
}

// Zip code: a directory resolved like require(dir) (package.json "main", else index.js).
async function loadDir(dir) {
  try {
    return require(dir);
  } catch (e) {
    if (!e || e.code !== 'ERR_REQUIRE_ESM') throw e;
    // "type": "module" packages cannot be required; import them instead.
    const { pathToFileURL } = require('url');
    const ns = await import(pathToFileURL(require.resolve(dir)).href);
    return ns.default !== undefined && typeof ns.default === 'object' ? { ...ns.default, ...ns } : ns;
  }
}

function pick(exported, locals, name) {
  if (exported !== null && exported !== undefined && typeof exported[name] === 'function') return exported[name];
  if (typeof locals[name] === 'function') return locals[name];
  return null;
}

async function init(msg) {
  if (entry) return { ok: false, error: 'Cannot initialize the action more than once.' };
  if (typeof msg.code_path !== 'string' || msg.code_path === '') {
    return { ok: false, error: 'Initialization has failed due to: no code_path.' };
  }
  setEnv(msg.env);
  if (Number(msg.concurrency) > 1) {
    concurrentWanted = true;
    wrapConsole();  // before the code loads: it may keep a reference to console.log
  }
  const wanted = typeof msg.main === 'string' && msg.main !== '' ? msg.main : 'main';
  // An unnamed (or default-named) entry falls back to Lambda's conventional `handler`.
  const names = wanted === 'main' ? ['main', 'handler'] : [wanted];
  const file = path.resolve(msg.code_path);
  let exported;
  let locals = {};
  try {
    if (msg.binary) {
      // Functions read bundled files relative to their code, as on OpenWhisk and Lambda.
      try { process.chdir(file); } catch (e) { /* keep the current directory */ }
      exported = await loadDir(file);
    } else {
      ({ exported, locals } = loadInline(file, names));
    }
  } catch (e) {
    logError(e);
    return { ok: false, error: `Initialization has failed due to: ${describe(e, file)}` };
  }
  let fn = null;
  for (const n of names) {
    fn = pick(exported, locals, n);
    if (fn) break;
    // `module.exports = function (...)` exports the entry itself.
    if (n === names[0] && typeof exported === 'function') { fn = exported; break; }
  }
  if (!fn) return { ok: false, error: `Action entrypoint '${wanted}' is not a function.` };
  entry = fn;
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// run: call the entry point, check the result, write the sentinels, reply.

function makeContext(settle, env) {
  // The run's own values come from its message; process.env reads cost ~0.3 us each.
  const deadline = Number(env.__OW_DEADLINE) || 0;
  const id = env.__OW_ACTIVATION_ID || '';
  return {
    functionName: process.env.__OW_ACTION_NAME || '',
    functionVersion: process.env.__OW_ACTION_VERSION || '',
    activationId: id,
    awsRequestId: id,
    namespace: process.env.__OW_NAMESPACE || '',
    deadline,
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis() { return deadline ? Math.max(0, deadline - Date.now()) : 0; },
    // Lambda's legacy completion calls.
    succeed(v) { settle.value(v); },
    fail(e) { settle.error(e); },
    done(e, v) { if (e !== null && e !== undefined) settle.error(e); else settle.value(v); },
  };
}

function isErrorObject(e) {
  return e instanceof Error || Object.prototype.toString.call(e) === '[object Error]';
}

function describe(e, file) {
  if (isErrorObject(e)) {
    let s = `${e.name || 'Error'}: ${e.message}`;
    // V8 puts a syntax error's position only in the stack ("<file>:<line>\n...").
    if (file && e.name === 'SyntaxError' && typeof e.stack === 'string' && e.stack.startsWith(file + ':')) {
      const line = /^[^\n]*:(\d+)\n/.exec(e.stack);
      if (line) s += ` (line ${line[1]})`;
    }
    return s;
  }
  try { return String(e); } catch (_) { return 'unknown error'; }
}

function logError(e) {
  const text = (isErrorObject(e) && typeof e.stack === 'string' ? e.stack : describe(e)) + '\n';
  if (als && als.getStore()) return writeTagged(2, text.slice(0, -1));
  try {
    if (stdio[2]) stdio[2].write(text);  // behind what the function already queued
    else writeAll(2, Buffer.from(text));
  } catch (_) { /* the log pipe is gone */ }
}

// The reply for a value the function produced.
function valueReply(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: NOT_A_DICT };
  let text;
  try {
    text = JSON.stringify(v);
  } catch (e) {
    return { ok: false, error: `The action returned a result that could not be serialised: ${describe(e)}` };
  }
  if (typeof text !== 'string' || text[0] !== '{') return { ok: false, error: NOT_A_DICT };  // toJSON()
  return '{"ok":true,"result":' + text + '}';
}

// The reply for a rejected promise or callback(err): an application error.
function errorReply(e) {
  let value = e;
  if (e === undefined) value = {};
  else if (isErrorObject(e)) value = e.message;
  let text;
  try {
    text = JSON.stringify({ error: value });
  } catch (_) {
    text = undefined;
  }
  if (typeof text !== 'string' || text === '{}') text = JSON.stringify({ error: describe(e) });
  return '{"ok":true,"result":' + text + '}';
}

function run(msg) {
  if (concurrent) return als.run({ id: msg.id }, () => runOne(msg));
  runOne(msg);
}

function runOne(msg) {
  if (!entry) return finishRun({ ok: false, error: 'The action has not been initialized.' });
  setEnv(msg.env);
  const params = msg.params !== null && typeof msg.params === 'object' ? msg.params : {};
  let settled = false;
  const token = {
    finish(reply) {
      if (settled) return;
      settled = true;
      if (concurrent) {
        inflight.delete(msg.id);
        sendTagged(msg.id, reply);
        return;
      }
      current = null;
      finishRun(reply);
    },
  };
  // Late or repeated completions (a second callback call, a promise settling after a
  // callback) are ignored without serialising anything.
  const settle = {
    value(v) { if (!settled) token.finish(valueReply(v)); },
    error(e) { if (!settled) token.finish(errorReply(e)); },
  };
  if (concurrent) inflight.set(msg.id, token);
  else current = token;
  // Only handlers that take a context get one: building it is a measurable part of a warm run.
  const ctx = entry.length >= 2 ? makeContext(settle, msg.env || {}) : undefined;
  try {
    let ret;
    if (entry.length >= 3) {
      ret = entry(params, ctx, (err, v) => {
        if (err !== null && err !== undefined) settle.error(err);
        else settle.value(v);
      });
      // An async handler that also takes a callback: whichever completes first wins.
      if (ret !== null && ret !== undefined && typeof ret.then === 'function') ret.then(settle.value, settle.error);
    } else {
      ret = entry(params, ctx);
      if (ret !== null && ret !== undefined && typeof ret.then === 'function') ret.then(settle.value, settle.error);
      else settle.value(ret);
    }
  } catch (e) {
    logError(e);
    token.finish({ ok: false, error: `An error has occurred: ${describe(e)}` });
  }
}

// Errors that escape the function's own control flow end the run in flight as a developer
// error instead of killing the instance (and the framing with it).
function escaped(kind, e) {
  if (concurrent) {
    // Which run threw cannot be told: every run in flight ends with the error, and each
    // record shows it.
    for (const [id, token] of [...inflight]) {
      als.run({ id }, () => logError(e));
      token.finish({ ok: false, error: `An error has occurred: ${kind}${describe(e)}` });
    }
    return;
  }
  logError(e);
  if (current) current.finish({ ok: false, error: `An error has occurred: ${kind}${describe(e)}` });
}
process.on('uncaughtException', (e) => escaped('', e));
process.on('unhandledRejection', (e) => escaped('unhandled rejection: ', e));

// Node creates process.stdout/stderr lazily, and creating a pipe stream loads `net`. The shim
// only needs to know whether user code created them: if not, nothing can be queued in them and
// the sentinel goes straight to the descriptor.
const stdio = { 1: null, 2: null };
function trackStdio(name, fd) {
  const d = Object.getOwnPropertyDescriptor(process, name);
  if (!d || typeof d.get !== 'function' || !d.configurable) {
    stdio[fd] = process[name];  // an unexpected Node: take the stream now
    return;
  }
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: d.enumerable,
    get() {
      const stream = d.get.call(process);
      stdio[fd] = stream;
      return stream;
    },
  });
}
trackStdio('stdout', 1);
trackStdio('stderr', 2);

const SENTINEL_BYTES = Buffer.from(SENTINEL);

function writeSentinel(fd, done) {
  const stream = stdio[fd];
  if (!stream) {
    writeAll(fd, SENTINEL_BYTES);
    done();
    return;
  }
  // After everything queued on the stream; Writable's own write, so that a logging library
  // that patched process.stdout.write can neither decorate nor swallow the sentinel.
  try {
    require('stream').Writable.prototype.write.call(stream, SENTINEL, done);
  } catch (_) {
    writeAll(fd, SENTINEL_BYTES);  // a stream the user ended or replaced
    done();
  }
}

// Concurrency > 1: the reply carries the run's id in front of its other fields.
function sendTagged(id, reply) {
  let text = typeof reply === 'string' ? reply : JSON.stringify(reply);
  const n = Buffer.byteLength(text);
  if (n > MAX_FRAME - 64) {
    text = JSON.stringify({ ok: false, error: `The action produced a result of ${n} bytes, more than the ${MAX_FRAME} allowed.` });
  }
  send(`{"id":${JSON.stringify(id)},${text.slice(1)}`);
}

// Writes the sentinel to both log streams after everything the function wrote, then replies.
// A full pipe makes Node queue stream writes, so the reply waits for both write callbacks; in
// the common case both are flushed at once and the reply goes out synchronously.
function finishRun(reply) {
  let waiting = 2;
  let sent = false;
  const done = () => {
    if (--waiting === 0 && !sent) { sent = true; send(reply); }
  };
  writeSentinel(1, done);
  writeSentinel(2, done);
  const flushed = (s) => !s || !(s.writableLength > 0);
  if (!sent && flushed(stdio[1]) && flushed(stdio[2])) { sent = true; send(reply); }
}

// Let the main module finish loading, then wait for the first request.
setImmediate(serveNext);
