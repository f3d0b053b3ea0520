// Process entry: run the CLI on this process's argv and exit with its code.
import './v8-flags.js';

const { main } = await import('./main.js');
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Let stdout drain (pipes are asynchronous), then exit even if a library left a handle open.
process.stdout.write('', () => process.exit(code));
