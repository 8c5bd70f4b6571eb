'use strict';
// Walks through duckdb-spawn from Node.js: create, list with a filter, update with a
// field mask, delete, and the decoded google.rpc.BadRequest of an invalid request.
//
//   DUCKDB_SPAWN_SERVER=localhost:50051 node example.js
//   (DUCKDB_SPAWN_TOKEN=$(cat admin.token) for servers with AUTH_REQUIRED=true)

const { Client, DuckdbSpawnError } = require('./src/client');

async function main() {
  const client = new Client(process.env.DUCKDB_SPAWN_SERVER || 'localhost:50051',
    { token: process.env.DUCKDB_SPAWN_TOKEN });
  try {
    const created = await client.createProject({
      project_name: 'Node solar farm',
      total_amount: '1250000.50', // decimals as exact strings
      maturity_years: 15,
      expected_tri: '7.25',
      dscr: '1.35',
      status: 'ACTIVE',
    });
    console.log(`created ${created.name} etag=${created.etag} total_amount=${created.attributes.total_amount}`);

    const listed = await client.listProjects({ filter: 'project_name = "Node*" AND status = "ACTIVE"',
      orderBy: 'total_amount desc' });
    console.log(`listed ${listed.projects.length} of ${listed.total_size}: ${listed.projects.map((p) => p.name).join(', ')}`);

    const updated = await client.updateProject(created.name, { status: 'COMPLETED' },
      { mask: ['status'], etag: created.etag });
    console.log(`updated ${updated.name} status=${updated.attributes.status}`);

    await client.deleteProject(updated.name);
    console.log(`deleted ${updated.name}`);

    try {
      await client.createProject({ project_name: 'x', currency_code: 'EURO' });
    } catch (error) {
      if (!(error instanceof DuckdbSpawnError)) throw error;
      console.log(`rejected: ${error.code} reason=${error.reason} domain=${error.domain}`);
      for (const violation of error.fieldViolations) {
        console.log(`  BadRequest ${violation.field}: ${violation.description} [${violation.reason}]`);
      }
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
