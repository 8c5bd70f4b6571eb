'use strict';
// The change feed from Node, against the live server of tests/clients/test_node_client.py. Test
// files run side by side on that server, so each test looks only at the projects it made.

const assert = require('node:assert/strict');
const { test, after } = require('node:test');
const { Client, fromTimestamp } = require('../src/client');

const client = new Client(process.env.DUCKDB_SPAWN_SERVER);
after(() => client.close());

const valid = (overrides = {}) => ({
  project_name: 'Node feed', total_amount: '20.00', maturity_years: 3, expected_tri: '4.00', dscr: '1.10',
  ...overrides,
});

// The clock moves past `ms` milliseconds from now (Dates have millisecond precision, commit times finer).
const clockPast = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

test('watch delivers creates, updates and deletes in order, from a listing position', async () => {
  const listed = await client.listProjects({ pageSize: 1 });
  assert.ok(listed.read_position);
  const stream = client.watch({ startPosition: listed.read_position, progress: true, progressIntervalMs: 1000 });
  const created = await client.createProject(valid({ status: 'PROPOSED' }));
  const updated = await client.updateProject(created.name, { status: 'ACTIVE' }, { mask: ['status'] });
  await client.deleteProject(created.name);

  const mine = [];
  const deadline = Date.now() + 20000;
  for await (const event of stream) { // progress events at least every second: the deadline is checked
    if (event.change_type && event.project.name === created.name) mine.push(event);
    if (mine.length === 3 || Date.now() > deadline) break; // leaving the loop cancels the call
  }
  assert.deepEqual(mine.map((c) => c.change_type),
    ['CHANGE_TYPE_CREATED', 'CHANGE_TYPE_UPDATED', 'CHANGE_TYPE_DELETED']);
  assert.equal(mine[0].project.attributes.total_amount, '20.00');
  assert.equal(mine[1].project.attributes.status, 'ACTIVE');
  assert.equal(mine[1].project.etag, updated.etag);
  assert.equal(mine[2].project.etag, updated.etag);
  assert.deepEqual(mine[2].project.attributes, {});
  assert.ok(fromTimestamp(mine[0].commit_time) <= fromTimestamp(mine[2].commit_time));
  assert.equal(stream.position, mine[2].position);
});

test('listChanges pages from a position to the latest change', async () => {
  const start = (await client.listProjects({ pageSize: 1 })).read_position;
  const made = [];
  for (let i = 0; i < 3; i += 1) made.push((await client.createProject(valid({ project_name: `Node page ${i}` }))).name);
  const names = [];
  let page = await client.listChanges({ startPosition: start, pageSize: 1 });
  for (let pages = 1; ; pages += 1) {
    assert.ok(page.changes.length <= 1 && page.position);
    names.push(...page.changes.map((c) => c.project.name));
    if (!page.next_page_token) break;
    assert.ok(pages < 1000, 'the listing did not end');
    page = await client.listChanges({ pageToken: page.next_page_token, pageSize: 1 });
  }
  assert.deepEqual(names.filter((n) => made.includes(n)), made);
  const after = await client.listChanges({ startPosition: page.position });
  assert.ok(after.changes.every((c) => !made.includes(c.project.name)), 'a page position resumes after it');
});

test('readTime reads a project as it was', async () => {
  const created = await client.createProject(valid({ status: 'PROPOSED' }));
  await clockPast(5);
  const then = new Date();
  await clockPast(5);
  await client.updateProject(created.name, { status: 'COMPLETED' }, { mask: ['status'] });
  const old = await client.getProject(created.name, { readTime: then });
  assert.equal(old.attributes.status, 'PROPOSED');
  assert.equal(old.etag, created.etag);
  assert.equal((await client.getProject(created.name)).attributes.status, 'COMPLETED');
  const listed = await client.listProjects({ filter: `project_id = "${created.name.split('/')[1]}"`, readTime: then });
  assert.equal(listed.projects[0].attributes.status, 'PROPOSED');
  await assert.rejects(client.listProjects({ readTime: new Date('2000-01-01T00:00:00Z') }),
    (error) => error.code === 'FAILED_PRECONDITION' && error.reason === 'READ_TIME_EXPIRED');
});

test('a watch from a position the server did not issue fails with its decoded error', async () => {
  const stream = client.watch({ startPosition: 'not-a-position' });
  await assert.rejects(async () => {
    for await (const event of stream) assert.fail(`unexpected ${JSON.stringify(event)}`);
  }, (error) => error.code === 'INVALID_ARGUMENT' && error.reason === 'INVALID_POSITION');
});
