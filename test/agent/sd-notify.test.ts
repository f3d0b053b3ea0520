// Type=notify: the agent tells systemd READY=1 after local setup (before etcd answers), via systemd-notify.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary, waitFor } from '../helpers/etcd.js';
import { BeaconProcess, writeConfig } from '../helpers/process.js';

test('READY=1 reaches NOTIFY_SOCKET even while etcd is unreachable', async (t) => {
  requireBinary('systemd-notify');
  const sock = join(mkdtempSync(join(tmpdir(), 'beacon-notify-')), 'notify.sock');
  // A datagram receiver standing in for systemd (Node has no unix datagram sockets).
  const rx = spawn(requireBinary('python3'), ['-c', [
    'import socket,sys',
    's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(sock)})`,
    'print("bound",flush=True)',
    'while True: print(s.recv(4096).decode().replace("\\n"," "),flush=True)',
  ].join('\n')]);
  let got = '';
  rx.stdout.on('data', (d: Buffer) => (got += d.toString()));
  t.teardown(() => rx.kill('SIGKILL'));
  await waitFor(() => got.includes('bound'), { what: 'receiver bound' });
  // Port 1 on loopback: nothing listens, etcd is "down".
  const cfg = writeConfig('etcd:\n  endpoints: [http://127.0.0.1:1]\nnode: { name: n1, ttl: 2s }\n');
  const agent = new BeaconProcess(['agent', '--config', cfg], { NOTIFY_SOCKET: sock });
  t.teardown(() => agent.stop('SIGKILL'));
  await waitFor(() => got.includes('READY=1'), { what: `READY=1 (got: ${got})` });
  t.regex(got, new RegExp(`MAINPID=${agent.proc.pid}`));
  t.regex(got, /STATUS=node n1 address \S+/);
  agent.kill('SIGTERM');
  await waitFor(() => got.includes('STOPPING=1'), { what: 'STOPPING=1' });
});
