import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { collect, integerBetween } from '../option-parsers.js';
import { writePrivate } from '../pki/write-private.js';
import { UsageError } from '../usage-error.js';

const PRINCIPAL_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const DAY_MS = 86_400_000;

interface IssueOptions {
  dir: string;
  principal: string;
  uri?: string[];
  dns?: string[];
  days: number;
  register: boolean;
}

/**
 * `keyward pki init|issue`: a small CA for Keyward's own mutual-TLS clients
 * (docs/operations.md, "Mutual TLS").
 *
 * @example
 * registerPkiCommand(program, ctx);
 */
export function registerPkiCommand(program: Command, ctx: CommandContext): void {
  const pki = program.command('pki').description("a small CA for Keyward's mutual-TLS clients");

  pki
    .command('init')
    .description('create a client CA: DIR/ca.crt and DIR/ca.key (0600); never overwrites one')
    .requiredOption('--dir <dir>', 'directory for the CA (created 0700)')
    .option('--days <n>', 'validity in days', integerBetween(1, 36500), 3650)
    .option('--name <cn>', 'common name of the CA', 'Keyward client CA')
    .action(async (options: { dir: string; days: number; name: string }, command: Command) => {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      // Loaded on use: the certificate library (and its polyfill) stays out of every other command.
      const { createClientCa } = await import('../pki/client-ca.js');
      const ca = await createClientCa({ name: options.name, days: options.days });
      try {
        await writePrivate(join(options.dir, 'ca.key'), ca.key, { replace: false });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new UsageError(`${join(options.dir, 'ca.key')} exists; not overwriting a CA`);
        throw error;
      }
      await writePrivate(join(options.dir, 'ca.crt'), ca.cert, { replace: true });
      const result = { caCert: join(options.dir, 'ca.crt'), caKey: join(options.dir, 'ca.key') };
      ctx.print(command, result, (r) =>
        formatDetails([
          ['CA certificate', r.caCert],
          ['CA key (0600)', r.caKey],
        ]),
      );
      ctx.note(`Start the server with --tls-client-ca ${result.caCert}; keep ca.key offline when not issuing.`);
    });

  pki
    .command('issue')
    .description('issue a client certificate for a principal (DIR/ID.crt, DIR/ID.key 0600) and register its identity on the principal')
    .requiredOption('--dir <dir>', 'directory of the CA (pki init)')
    .requiredOption('--principal <id>', 'principal id')
    .option('--uri <uri>', 'SAN URI (repeatable; default spiffe://keyward/ID)', collect)
    .option('--dns <name>', 'SAN DNS name (repeatable)', collect)
    .option('--days <n>', 'validity in days', integerBetween(1, 3650), 90)
    .option('--no-register', 'do not register the identities on the principal (PATCH /v1/principals/ID)')
    .action(async (options: IssueOptions, command: Command) => {
      const id = options.principal;
      if (!PRINCIPAL_ID.test(id)) throw new UsageError(`--principal: '${id}' is not a principal id`);
      const uris = options.uri ?? [`spiffe://keyward/${id}`];
      const dnsNames = (options.dns ?? []).map((name) => name.toLowerCase());
      const ca = { cert: await readCaFile(options.dir, 'ca.crt'), key: await readCaFile(options.dir, 'ca.key') };
      const caKeyMode = (await stat(join(options.dir, 'ca.key'))).mode & 0o077;
      if (caKeyMode !== 0) ctx.note(`WARNING: ${join(options.dir, 'ca.key')} is readable by others; chmod 600 it.`);
      const identities = [...uris.map((u) => `uri:${u}`), ...dnsNames.map((d) => `dns:${d}`)];
      // Registered first: a refused identity (taken by another principal) leaves no certificate behind.
      if (options.register) {
        const client = await ctx.client(command);
        const current = await client.getPrincipal(id);
        await client.patchPrincipal(id, { tlsIdentities: [...new Set([...current.tlsIdentities, ...identities])] });
      }
      const { issueClientCertificate } = await import('../pki/client-ca.js');
      const now = new Date();
      const issued = await issueClientCertificate({
        ca,
        commonName: id,
        uris,
        dnsNames,
        notBefore: now,
        notAfter: new Date(now.getTime() + options.days * DAY_MS),
      });
      await writePrivate(join(options.dir, `${id}.key`), issued.key, { replace: true });
      await writePrivate(join(options.dir, `${id}.crt`), issued.cert, { replace: true });
      const result = {
        principal: id,
        cert: join(options.dir, `${id}.crt`),
        key: join(options.dir, `${id}.key`),
        identities,
        registered: options.register,
      };
      ctx.print(command, result, (r) =>
        formatDetails([
          ['Principal', r.principal],
          ['Certificate', r.cert],
          ['Key (0600)', r.key],
          ['Identities', r.identities.join(',')],
          ['Registered', r.registered ? 'yes' : 'no'],
        ]),
      );
    });
}

async function readCaFile(dir: string, name: string): Promise<string> {
  try {
    return await readFile(join(dir, name), 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read ${join(dir, name)} (run keyward pki init --dir ${dir}): ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
