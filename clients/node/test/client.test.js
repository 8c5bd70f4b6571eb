'use strict';
// Runs against a live server: DUCKDB_SPAWN_SERVER (host:port) and DUCKDB_SPAWN_TOKEN (its admin
// token) are set by the Python test that starts it (tests/clients/test_node_client.py).

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { test, after } = require('node:test');
const { promisify } = require('node:util');
const { Client, DuckdbSpawnError } = require('../src/client');

const target = process.env.DUCKDB_SPAWN_SERVER;
const token = process.env.DUCKDB_SPAWN_TOKEN;
assert.ok(target, 'DUCKDB_SPAWN_SERVER must name a live server');

const client = new Client(target);
after(() => client.close());

const valid = (overrides = {}) => ({
  project_name: 'Node project', total_amount: '1000.50', maturity_years: 10, expected_tri: '5.00', dscr: '1.20',
  ...overrides,
});

test('create, list with a filter, update with a mask, delete', async () => {
  const created = await client.createProject(valid({ project_name: 'Node wind', status: 'ACTIVE' }),
    { projectId: '0e9a7b1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d' });
  assert.equal(created.name, 'projects/0e9a7b1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d');
  assert.equal(created.attributes.total_amount, '1000.50');
  assert.equal(created.attributes.maturity_years, 10);
  await client.createProject(valid({ project_name: 'Node other', status: 'PROPOSED' }));

  const listed = await client.listProjects({ filter: 'project_name = "Node*" AND status = "ACTIVE"' });
  assert.deepEqual(listed.projects.map((p) => p.name), [created.name]);
  assert.equal(listed.total_size, 1);

  const updated = await client.updateProject(created.name, { status: 'COMPLETED', description: 'ignored' },
    { mask: ['status'], etag: created.etag });
  assert.equal(updated.attributes.status, 'COMPLETED');
  assert.equal(updated.attributes.description, null); // not in the mask: unchanged (absent)
  assert.notEqual(updated.etag, created.etag);

  await assert.rejects(client.updateProject(created.name, { status: 'ACTIVE' }, { mask: ['status'], etag: created.etag }),
    (error) => error.code === 'ABORTED' && error.reason === 'ETAG_MISMATCH');

  await client.deleteProject(created.name);
  await assert.rejects(client.getProject(created.name),
    (error) => error instanceof DuckdbSpawnError && error.code === 'NOT_FOUND' && error.reason === 'PROJECT_NOT_FOUND');
});

test('invalid input is decoded into BadRequest field violations and ErrorInfo', async () => {
  await assert.rejects(client.createProject({ project_name: 'x', currency_code: 'EURO', total_amount: '1.005' }),
    (error) => {
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.reason, 'INVALID_ATTRIBUTES');
      assert.equal(error.domain, 'duckdbspawn.io');
      const reasons = Object.fromEntries(error.fieldViolations.map((v) => [v.field, v.reason]));
      assert.deepEqual(reasons, {
        'attributes.currency_code': 'TOO_LONG',
        'attributes.dscr': 'REQUIRED',
        'attributes.expected_tri': 'REQUIRED',
        'attributes.maturity_years': 'REQUIRED',
        'attributes.total_amount': 'PRECISION_EXCEEDED',
      });
      assert.ok(error.details.some((d) => d['@type'] === 'google.rpc.BadRequest'));
      return true;
    });
});

test('admin calls need the admin token', async () => {
  await assert.rejects(client.call('admin', 'ListTables', {}),
    (error) => error.code === 'UNAUTHENTICATED' && error.reason === 'MISSING_CREDENTIALS');
  assert.ok(token, 'DUCKDB_SPAWN_TOKEN must hold the admin token');
  const admin = new Client(target, { token });
  try {
    const tables = await admin.call('admin', 'ListTables', {});
    assert.deepEqual(tables.tables.map((t) => t.name), ['tables/projects']);
  } finally {
    admin.close();
  }
});

test('the example runs and prints the decoded BadRequest', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, '..', 'example.js')],
    { env: process.env, timeout: 60000 });
  const lines = stdout.trim().split('\n');
  assert.match(lines[0], /^created projects\/[0-9a-f-]{36} etag=\S+ total_amount=1250000\.50$/);
  assert.match(lines[1], /^listed 1 of 1: projects\//);
  assert.match(lines[2], /status=COMPLETED$/);
  assert.match(lines[3], /^deleted projects\//);
  assert.equal(lines[4], 'rejected: INVALID_ARGUMENT reason=INVALID_ATTRIBUTES domain=duckdbspawn.io');
  assert.ok(lines.includes('  BadRequest attributes.currency_code: at most 3 characters for CHAR(3), got 4 [TOO_LONG]'),
    stdout);
});
