import type { TotpConfirmed, TotpEnrolment } from '@keyward/wire';
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatDetails } from '../format-details.js';
import { UsageError } from '../usage-error.js';

/**
 * `keyward auth totp enrol|confirm|remove`: a second factor for a local
 * user's admin-level requests (docs/governance.md, "People: OIDC and second
 * factors"). Once confirmed, pass the current code with `--otp` or
 * `KEYWARD_OTP`.
 *
 * @example
 * registerAuthCommand(program, ctx);
 */
export function registerAuthCommand(program: Command, ctx: CommandContext): void {
  const auth = program.command('auth').description('your own credentials: second factors');
  const totp = auth.command('totp').description('a TOTP authenticator app as a second factor for admin-level requests');

  totp
    .command('enrol')
    .alias('enroll')
    .description('enrol an authenticator for yourself; the secret is printed this once; then run `auth totp confirm`')
    .action(async (_options: object, command: Command) => {
      const client = await ctx.client(command);
      const enrolment = await client.enrolTotp();
      ctx.print(command, enrolment, renderEnrolment);
      ctx.note('Add the secret (or the URI, as a QR code) to your authenticator app now: it is shown this once.');
      ctx.note('Then run: keyward auth totp confirm CODE   (the code the app shows)');
    });

  totp
    .command('confirm')
    .description('confirm the enrolled authenticator with the code it shows now')
    .argument('<code>', 'the 6-digit code the app shows (good for about a minute)')
    .action(async (code: string, _options: object, command: Command) => {
      if (!/^[0-9]{6}$/.test(code)) throw new UsageError('the code must be the 6 digits your authenticator shows');
      const client = await ctx.client(command);
      const confirmed = await client.confirmTotp(code);
      ctx.print(command, confirmed, renderConfirmed);
    });

  totp
    .command('remove')
    .description("remove a principal's authenticator (admin; when a user lost theirs)")
    .argument('<principal>', 'principal id')
    .action(async (principal: string, _options: object, command: Command) => {
      const client = await ctx.client(command);
      await client.removeTotp(principal);
      ctx.print(command, { principal, removed: true }, () => `removed the TOTP authenticator of ${principal}\n`);
    });
}

function renderEnrolment(enrolment: TotpEnrolment): string {
  return formatDetails([
    ['Secret', enrolment.secret],
    ['URI', enrolment.uri],
  ]);
}

function renderConfirmed(confirmed: TotpConfirmed): string {
  return `TOTP confirmed for ${confirmed.principal}: admin-level requests now need --otp CODE (or KEYWARD_OTP)\n`;
}
