import type { Command } from 'commander';
import { UsageError } from '../usage-error.js';

/**
 * Lists `keyward server` in the help. `bin/keyward` sends `server` to the
 * server package before the CLI loads, so this action runs only when the CLI
 * module is started some other way.
 *
 * @example
 * registerServerCommand(program);
 */
export function registerServerCommand(program: Command): void {
  program
    .command('server')
    .description('start the Keyward server: keyward server --data-dir DIR [--listen 127.0.0.1:8200] [--seal file|shamir|pkcs11]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new UsageError("'server' is run by bin/keyward (the server package); start it as: keyward server --data-dir DIR");
    });
}
