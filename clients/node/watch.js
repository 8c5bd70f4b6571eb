'use strict';
// Follows duckdb-spawn's change feed: one JSON line per committed change, in order, until Ctrl-C.
// When the server drains or restarts, the watch calls again from the last position it printed
// (ChangeStream in src/client.js), so no change is missed or printed twice.
//
//   DUCKDB_SPAWN_SERVER=localhost:50051 node watch.js                # from now
//   DUCKDB_SPAWN_SERVER=localhost:50051 node watch.js <position>     # after a position, e.g. the
//                                                                    # read_position of a listing
// Each line is { change_type, name, etag, commit_time, position, attributes }; a deleted project
// has no attributes. On a restart of this program, pass the last position printed.

const { Client, fromTimestamp } = require('./src/client');

async function main() {
  const client = new Client(process.env.DUCKDB_SPAWN_SERVER || 'localhost:50051',
    { token: process.env.DUCKDB_SPAWN_TOKEN });
  const stream = client.watch({
    startPosition: process.argv[2] || '',
    maxAttempts: Infinity, // keep calling while the server is away, for up to five minutes
    timeoutMs: 5 * 60 * 1000,
    onRetry: (attempt, error, waitMs) => console.error(`reconnecting (${error.code}, attempt ${attempt}) in ${Math.round(waitMs)} ms`),
  });
  const stop = () => stream.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const change of stream) {
      const { project } = change;
      console.log(JSON.stringify({
        change_type: change.change_type.replace('CHANGE_TYPE_', '').toLowerCase(),
        name: project.name,
        etag: project.etag,
        commit_time: fromTimestamp(change.commit_time).toISOString(),
        position: change.position,
        ...(change.change_type === 'CHANGE_TYPE_DELETED' ? {} : { attributes: project.attributes }),
      }));
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
