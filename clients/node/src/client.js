'use strict';
// A small Node.js client for duckdb-spawn.
//
// The services are loaded at run time from the repository's protos/ with
// @grpc/proto-loader; the google/api and google/rpc imports come from
// build/proto-deps (`make proto-deps` copies them there from
// googleapis-common-protos). Attributes travel as google.protobuf.Struct:
// toStruct/fromStruct convert plain objects. Decimals are exact strings
// ("1250000.50"), dates "YYYY-MM-DD", timestamps RFC 3339.
//
// Errors carry google.rpc.Status in the `grpc-status-details-bin` trailer;
// decodeError turns it into { code, message, reason, domain, metadata,
// fieldViolations, details }.
//
// The change feed: listChanges pages through committed changes; watch()
// follows them as an async iterable that calls again from its last position
// when the server ends the stream with UNAVAILABLE (a drain, a restart), so
// no change is missed or delivered twice. Times (readTime, startTime) are
// Dates; positions are opaque strings.

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const REPO = path.resolve(__dirname, '..', '..', '..');
const INCLUDE_DIRS = [path.join(REPO, 'protos'), path.join(REPO, 'build', 'proto-deps')];
const SERVICE_FILES = [
  'duckdb_spawn/v1/project_service.proto',
  'duckdb_spawn/v1/admin_service.proto',
  'duckdb_spawn/v1/monitoring_service.proto',
];
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function checkIncludes() {
  const marker = path.join(INCLUDE_DIRS[1], 'google', 'rpc', 'status.proto');
  if (!fs.existsSync(marker)) {
    throw new Error(`${marker} is missing: run \`make proto-deps\` at the repository root first`);
  }
}

let services;
function loadServices() {
  if (!services) {
    checkIncludes();
    const definition = protoLoader.loadSync(SERVICE_FILES, { ...LOADER_OPTIONS, includeDirs: INCLUDE_DIRS });
    services = grpc.loadPackageDefinition(definition).duckdb_spawn.v1;
  }
  return services;
}

let rpcTypes;
function loadRpcTypes() {
  if (!rpcTypes) {
    checkIncludes();
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const dir of INCLUDE_DIRS) {
        const candidate = path.join(dir, target);
        if (fs.existsSync(candidate)) return candidate;
      }
      return target; // google/protobuf/*.proto: protobufjs ships those
    };
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
    rpcTypes = root;
  }
  return rpcTypes;
}

// -- Struct <-> plain objects ---------------------------------------------------------

function toValue(value) {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'bigint') return { stringValue: value.toString() };
  if (value instanceof Date) return { stringValue: value.toISOString() };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

function toStruct(object) {
  const fields = {};
  for (const [key, value] of Object.entries(object || {})) fields[key] = toValue(value);
  return { fields };
}

function fromValue(value) {
  switch (value.kind) {
    case 'nullValue': return null;
    case 'numberValue': return value.numberValue;
    case 'stringValue': return value.stringValue;
    case 'boolValue': return value.boolValue;
    case 'listValue': return (value.listValue.values || []).map(fromValue);
    case 'structValue': return fromStruct(value.structValue);
    default: return null;
  }
}

function fromStruct(struct) {
  const result = {};
  for (const [key, value] of Object.entries((struct && struct.fields) || {})) result[key] = fromValue(value);
  return result;
}

function fromProject(project) {
  return { ...project, attributes: fromStruct(project.attributes) };
}

// A change as the service sends it, its project's attributes as a plain object. change_type is
// CHANGE_TYPE_CREATED, CHANGE_TYPE_UPDATED or CHANGE_TYPE_DELETED (then the project has only its
// name and the etag it had).
function fromChange(change) {
  return { ...change, project: fromProject(change.project) };
}

// -- times ------------------------------------------------------------------------------

function toTimestamp(date) {
  const ms = date instanceof Date ? date.getTime() : new Date(date).getTime();
  if (Number.isNaN(ms)) throw new TypeError(`not a time: ${date}`);
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1e6 };
}

function fromTimestamp(timestamp) {
  if (!timestamp) return null;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6));
}

function withTime(request, field, value) {
  return value === undefined || value === null ? request : { ...request, [field]: toTimestamp(value) };
}

// -- errors -----------------------------------------------------------------------------

const STATUS_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

function decodeError(error) {
  const result = {
    code: STATUS_NAMES[error.code] || String(error.code),
    message: error.details || error.message,
    reason: '',
    domain: '',
    metadata: {},
    fieldViolations: [],
    details: [],
  };
  const raw = error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
  if (!raw || raw.length === 0) return result;
  const root = loadRpcTypes();
  const status = root.lookupType('google.rpc.Status').decode(raw[0]);
  for (const any of status.details) {
    const typeName = any.type_url.split('/').pop();
    let type;
    try {
      type = root.lookupType(typeName);
    } catch {
      result.details.push({ '@type': typeName });
      continue;
    }
    const detail = type.toObject(type.decode(any.value), { longs: String, enums: String, defaults: true });
    result.details.push({ '@type': typeName, ...detail });
    if (typeName === 'google.rpc.ErrorInfo') {
      result.reason = detail.reason;
      result.domain = detail.domain;
      result.metadata = detail.metadata || {};
    } else if (typeName === 'google.rpc.BadRequest') {
      result.fieldViolations.push(...detail.field_violations.map(
        (v) => ({ field: v.field, description: v.description, reason: v.reason })));
    }
  }
  return result;
}

class DuckdbSpawnError extends Error {
  constructor(decoded, cause) {
    super(`${decoded.code}${decoded.reason ? ` (${decoded.reason})` : ''}: ${decoded.message}`, { cause });
    this.name = 'DuckdbSpawnError';
    Object.assign(this, decoded);
  }
}

// -- the client ---------------------------------------------------------------------------

class Client {
  // target: "host:port"; options: { token, credentials (grpc.ChannelCredentials), timeoutMs }
  constructor(target, options = {}) {
    const v1 = loadServices();
    const credentials = options.credentials || grpc.credentials.createInsecure();
    this.timeoutMs = options.timeoutMs || 30000;
    this.token = options.token || null;
    this.projects = new v1.ProjectService(target, credentials);
    this.admin = new v1.AdminService(target, credentials, { channelOverride: this.projects.getChannel() });
    this.monitoring = new v1.MonitoringService(target, credentials,
      { channelOverride: this.projects.getChannel() });
  }

  close() {
    this.projects.close();
  }

  metadata() {
    const metadata = new grpc.Metadata();
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
    return metadata;
  }

  // Any unary RPC: client.call('projects', 'GetProject', { name }).
  call(service, method, request) {
    const metadata = this.metadata();
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve, reject) => {
      this[service][method](request, metadata, { deadline }, (error, response) => {
        if (error) reject(new DuckdbSpawnError(decodeError(error), error));
        else resolve(response);
      });
    });
  }

  async createProject(attributes, { projectId = '', requestId = '' } = {}) {
    const request = { project: { attributes: toStruct(attributes) }, project_id: projectId, request_id: requestId };
    return fromProject(await this.call('projects', 'CreateProject', request));
  }

  // readTime (a Date): the project as it was then, within the change retention window.
  async getProject(name, { readTime = null } = {}) {
    return fromProject(await this.call('projects', 'GetProject', withTime({ name }, 'read_time', readTime)));
  }

  // The response's read_position is the position of the listing's snapshot: watch from it.
  async listProjects({ pageSize = 0, pageToken = '', filter = '', orderBy = '', readTime = null } = {}) {
    const response = await this.call('projects', 'ListProjects', withTime(
      { page_size: pageSize, page_token: pageToken, filter, order_by: orderBy }, 'read_time', readTime));
    return { ...response, projects: response.projects.map(fromProject) };
  }

  // One page of changes, oldest first: after startPosition, else after startTime, else from the
  // oldest kept. Returns { changes, next_page_token, position }: position is how far the page got.
  async listChanges({ startPosition = '', startTime = null, pageSize = 0, pageToken = '' } = {}) {
    const response = await this.call('projects', 'ListProjectChanges', withTime(
      { start_position: startPosition, page_size: pageSize, page_token: pageToken }, 'start_time', startTime));
    return { ...response, changes: response.changes.map(fromChange) };
  }

  // Follows changes as they commit (after startPosition, else after startTime, else from now):
  //   const stream = client.watch({ startPosition });
  //   for await (const change of stream) { ...; save(stream.position); }
  // See ChangeStream for the options.
  watch(options = {}) {
    return new ChangeStream(this, options);
  }

  // mask: attribute names ("status") or paths ("attributes.status"); etag: optional (AIP-154).
  async updateProject(name, attributes, { mask = null, etag = '' } = {}) {
    const request = { project: { name, etag, attributes: toStruct(attributes) } };
    if (mask) {
      request.update_mask = { paths: mask.map((p) => (p.startsWith('attributes') || p === '*' ? p : `attributes.${p}`)) };
    }
    return fromProject(await this.call('projects', 'UpdateProject', request));
  }

  async deleteProject(name, { etag = '' } = {}) {
    await this.call('projects', 'DeleteProject', { name, etag });
  }
}

// -- the change feed ------------------------------------------------------------------------

// An async iterable of changes (fromChange) in position order, each once, also across server
// restarts: when the stream ends with UNAVAILABLE it calls again from `position`, at once the
// first time (or after the server's RetryInfo delay), then with exponential backoff and full
// jitter (initialBackoffMs doubling up to maxBackoffMs), for at most maxAttempts calls in a row and
// timeoutMs (the client's by default) after the stream was lost. Other errors are thrown as
// DuckdbSpawnError (FAILED_PRECONDITION with reason CHANGE_POSITION_EXPIRED: list again).
//
// `position` is always a position to resume from (every change up to it has been yielded). With
// { progress: true } it also yields { position } when the server reports that nothing changed
// for progressIntervalMs. close() (or leaving the for-await loop) cancels the call.
class ChangeStream {
  constructor(client, { startPosition = '', startTime = null, progressIntervalMs = null, progress = false,
    maxAttempts = 10, initialBackoffMs = 100, maxBackoffMs = 5000, timeoutMs = null, onRetry = null } = {}) {
    this.client = client;
    this.request = withTime({ start_position: startPosition }, 'start_time', startTime);
    if (progressIntervalMs !== null) {
      const seconds = Math.floor(progressIntervalMs / 1000);
      this.request.progress_interval = { seconds: String(seconds), nanos: (progressIntervalMs % 1000) * 1e6 };
    }
    this.progress = progress;
    this.retry = { maxAttempts, initialBackoffMs, maxBackoffMs, timeoutMs: timeoutMs ?? client.timeoutMs };
    this.onRetry = onRetry;
    this.position = startPosition;
    this.reconnects = 0;
    this.closed = false;
    this.call = null;
    this.wake = null;
  }

  close() {
    this.closed = true;
    if (this.call) this.call.cancel();
    if (this.wake) this.wake();
  }

  async* [Symbol.asyncIterator]() {
    let failures = 0;
    let lostAt = null;
    try {
      while (!this.closed) {
        const request = { ...this.request };
        if (this.position) { // from the last position delivered
          request.start_position = this.position;
          delete request.start_time;
        }
        this.call = this.client.projects.WatchProjects(request, this.client.metadata());
        let ended;
        try {
          for await (const response of this.call) {
            if (lostAt !== null) this.reconnects += 1;
            failures = 0;
            lostAt = null;
            if (response.changes.length > 0) {
              for (const change of response.changes) {
                this.position = change.position;
                yield fromChange(change);
              }
              this.position = response.position || this.position;
            } else {
              this.position = response.position || this.position;
              if (this.progress) yield { position: this.position };
            }
          }
          ended = { code: grpc.status.UNAVAILABLE, details: 'the server ended the watch', metadata: null };
        } catch (error) {
          ended = error;
        }
        if (this.closed) return;
        const decoded = decodeError(ended);
        if (ended.code !== grpc.status.UNAVAILABLE) throw new DuckdbSpawnError(decoded, ended);
        failures += 1;
        lostAt = lostAt ?? Date.now();
        const waitMs = failures === 1 ? retryDelayMs(decoded) : this.backoffMs(failures, decoded);
        if (failures >= this.retry.maxAttempts || Date.now() + waitMs - lostAt >= this.retry.timeoutMs) {
          throw new DuckdbSpawnError(decoded, ended);
        }
        if (this.onRetry) this.onRetry(failures, decoded, waitMs);
        await new Promise((resolve) => { // close() cuts the wait short
          const timer = setTimeout(resolve, waitMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    } finally {
      if (this.call) this.call.cancel();
    }
  }

  backoffMs(failures, decoded) {
    const high = Math.min(this.retry.maxBackoffMs, this.retry.initialBackoffMs * 2 ** Math.min(failures - 1, 60));
    return Math.max(Math.random() * high, retryDelayMs(decoded));
  }
}

// The google.rpc.RetryInfo delay of a decoded error, in milliseconds (0 without one).
function retryDelayMs(decoded) {
  const info = decoded.details.find((d) => d['@type'] === 'google.rpc.RetryInfo');
  if (!info || !info.retry_delay) return 0;
  return Number(info.retry_delay.seconds) * 1000 + Math.floor(info.retry_delay.nanos / 1e6);
}

module.exports = {
  Client, ChangeStream, DuckdbSpawnError, decodeError, toStruct, fromStruct, fromTimestamp, toTimestamp, loadServices,
  grpc,
};
