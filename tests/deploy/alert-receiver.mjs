// A webhook for the deploy tests: accepts POSTs on 127.0.0.1 (a free port), appends each body as one
// line to OUT_FILE before answering 200, and writes its port to PORT_FILE once listening.
// Usage: node alert-receiver.mjs OUT_FILE PORT_FILE. Plain Node, no packages.
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [outFile, portFile] = process.argv.slice(2);
if (!outFile || !portFile) {
  console.error('usage: node alert-receiver.mjs OUT_FILE PORT_FILE');
  process.exit(2);
}
const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8').replace(/\n/g, ' ');
    appendFileSync(outFile, `${body}\n`);
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
  });
});
server.listen(0, '127.0.0.1', () => {
  writeFileSync(`${portFile}.tmp`, `${server.address().port}\n`);
  renameSync(`${portFile}.tmp`, portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
