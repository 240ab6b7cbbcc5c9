import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { attestationPublicKey, verifyAttestation } from '../attest/verify-attestation.js';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';
import { errnoCode } from '../read-input.js';
import { renderAttestation } from '../render/render-attestation.js';
import { UsageError } from '../usage-error.js';
import { writeOutput } from '../write-output.js';

/**
 * `keyward attest get|public-key|verify`: signed attestations of backups,
 * the audit trail, key counts and compliance (docs/operations.md "Reading
 * an attestation"). `verify` is offline, with `jose`.
 *
 * @example
 * registerAttestCommands(program, ctx);
 */
export function registerAttestCommands(program: Command, ctx: CommandContext): void {
  const attest = program.command('attest').description('signed attestations: fetch one, fetch the public key, verify offline');

  attest
    .command('get')
    .description('fetch a fresh attestation (a compact JWS signed with EdDSA) of the namespace')
    .option('--out <file>', 'write the JWS to FILE instead of stdout')
    .action(async (options: { out?: string }, command: Command) => {
      const answer = await (await ctx.client(command)).attestation();
      const json = ctx.options(command).json === true;
      await writeOutput(options.out, json ? `${JSON.stringify(answer, null, 2)}\n` : `${answer.jws}\n`, ctx.io);
      if (!json) ctx.note(`attestation key id: ${answer.kid}`);
    });

  attest
    .command('public-key')
    .description('print the Ed25519 public key (PEM) attestations are signed with; its kid goes to stderr (--json: PEM, JWK and kid)')
    .option('--out <file>', 'write to FILE instead of stdout')
    .action(async (options: { out?: string }, command: Command) => {
      const answer = await (await ctx.client(command)).attestationPublicKey();
      const json = ctx.options(command).json === true;
      const pem = answer.publicKey.endsWith('\n') ? answer.publicKey : `${answer.publicKey}\n`;
      await writeOutput(options.out, json ? `${JSON.stringify(answer, null, 2)}\n` : pem, ctx.io);
      if (!json) ctx.note(`attestation key id: ${answer.kid}`);
    });

  attest
    .command('verify')
    .description('check an attestation offline: EdDSA signature, kid, claims; prints them; exit 0 valid, 3 invalid')
    .argument('<file>', 'the attestation: a compact JWS (keyward attest get --out) or the JSON the API answers')
    .requiredOption('--public-key <file>', 'the attestation public key obtained out of band: PEM, a JWK, or the public-key JSON')
    .action(async (file: string, options: { publicKey: string }, command: Command) => {
      const text = await readText(file);
      let key: KeyObject;
      try {
        key = attestationPublicKey(await readText(options.publicKey));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`--public-key ${options.publicKey}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const check = await verifyAttestation(text, key);
      if (!check.valid) {
        ctx.io.stderr.write(`attestation INVALID: ${check.reason}\n`);
        ctx.fail(ExitCode.Refused);
        return;
      }
      ctx.print(command, { valid: true, kid: check.kid, claims: check.claims }, (v) => renderAttestation(v.claims, v.kid));
    });
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${errnoCode(error)}`);
  }
}
