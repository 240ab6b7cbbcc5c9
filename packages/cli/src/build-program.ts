import { Command } from 'commander';
import type { CommandContext } from './command-context.js';
import { registerAlertCommands } from './commands/alert-command.js';
import { registerApprovalCommand } from './commands/approval-command.js';
import { registerAttestCommands } from './commands/attest-command.js';
import { registerAuditCommands } from './commands/audit-command.js';
import { registerAuthCommand } from './commands/auth-command.js';
import { registerBackupCommand } from './commands/backup-command.js';
import { registerCryptoCommand } from './commands/crypto-command.js';
import { registerDrillCommand } from './commands/drill-command.js';
import { registerEventCommands } from './commands/event-command.js';
import { registerGrantCommand } from './commands/grant-command.js';
import { registerIncidentCommand } from './commands/incident-command.js';
import { registerKeyCommand } from './commands/key-command.js';
import { registerOperatorCommand } from './commands/operator-command.js';
import { registerPkiCommand } from './commands/pki-command.js';
import { registerPrincipalCommand } from './commands/principal-command.js';
import { registerReportCommand } from './commands/report-command.js';
import { registerServerCommand } from './commands/server-command.js';
import { registerSignCommand } from './commands/sign-command.js';
import { registerStatusCommand } from './commands/status-command.js';
import { registerTokenCommand } from './commands/token-command.js';
import { EXIT_CODES_HELP } from './exit-code.js';
import { DEFAULT_ADDRESS } from './global-options.js';

const ENVIRONMENT_HELP = `Environment:
  KEYWARD_ADDR       server address (default ${DEFAULT_ADDRESS}); --addr wins
  KEYWARD_TOKEN      bearer token; --token-file wins (there is no --token flag:
                     process arguments are visible to every user of the machine)
  KEYWARD_NAMESPACE  key namespace (default: the server's "default"); --namespace wins
  KEYWARD_OTP        current code of your TOTP authenticator, for admin-level
                     requests once you enrolled one; --otp wins
  KEYWARD_CACERT     CA certificate (PEM file) that issued the server's
                     certificate, instead of the system's; --ca-file wins
  KEYWARD_CLIENT_CERT, KEYWARD_CLIENT_KEY
                     client certificate and its key (PEM files) for mutual
                     TLS; --client-cert and --client-key win`;

/**
 * The `keyward` command tree. Commander's errors are thrown (exitOverride)
 * and its output goes to the context's streams; settings are made before the
 * subcommands are added so that every subcommand inherits them.
 *
 * @example
 * await buildProgram(ctx).parseAsync(['key', 'list'], { from: 'user' });
 */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('keyward')
    .description('Keyward key management service: operate the server, manage keys, principals and grants, and use keys')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError()
    .option('--addr <url>', `server address (env KEYWARD_ADDR, default ${DEFAULT_ADDRESS})`)
    .option('--token-file <file>', 'read the bearer token from FILE (else env KEYWARD_TOKEN)')
    .option('--namespace <namespace>', 'key namespace (env KEYWARD_NAMESPACE)')
    .option('--otp <code>', 'current code of your TOTP authenticator, for admin-level requests (env KEYWARD_OTP)')
    .option('--ca-file <file>', "trust the CA certificate in FILE (PEM) for the server's certificate (env KEYWARD_CACERT)")
    .option('--client-cert <file>', 'authenticate with the client certificate in FILE (PEM; mutual TLS; env KEYWARD_CLIENT_CERT)')
    .option('--client-key <file>', 'the private key of --client-cert (PEM file; env KEYWARD_CLIENT_KEY)')
    .option('--json', 'machine-readable JSON output')
    .addHelpText('after', `\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}\n`);

  registerServerCommand(program);
  registerOperatorCommand(program, ctx);
  registerStatusCommand(program, ctx);
  registerKeyCommand(program, ctx);
  registerCryptoCommand(program, ctx);
  registerSignCommand(program, ctx);
  registerPrincipalCommand(program, ctx);
  registerTokenCommand(program, ctx);
  registerPkiCommand(program, ctx);
  registerAuthCommand(program, ctx);
  registerGrantCommand(program, ctx);
  registerApprovalCommand(program, ctx);
  registerEventCommands(program, ctx);
  registerAlertCommands(program, ctx);
  registerAuditCommands(program, ctx);
  registerAttestCommands(program, ctx);
  registerBackupCommand(program, ctx);
  registerIncidentCommand(program, ctx);
  registerReportCommand(program, ctx);
  registerDrillCommand(program, ctx);
  return program;
}
