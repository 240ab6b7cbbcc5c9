// Entry point of the `keyward` CLI; bin/keyward imports the built file for every command but `server`.
import { processIo } from './process-io.js';
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), processIo());
