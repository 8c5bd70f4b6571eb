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

  // Any unary RPC: client.call('projects', 'GetProject', { name }).
  call(service, method, request) {
    const metadata = new grpc.Metadata();
    if (this.token) metadata.set('authorization', `Bearer ${this.token}`);
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

  async getProject(name) {
    return fromProject(await this.call('projects', 'GetProject', { name }));
  }

  async listProjects({ pageSize = 0, pageToken = '', filter = '', orderBy = '' } = {}) {
    const response = await this.call('projects', 'ListProjects',
      { page_size: pageSize, page_token: pageToken, filter, order_by: orderBy });
    return { ...response, projects: response.projects.map(fromProject) };
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

module.exports = { Client, DuckdbSpawnError, decodeError, toStruct, fromStruct, loadServices, grpc };
