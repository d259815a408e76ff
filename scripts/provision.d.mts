// Types for scripts/provision.mjs (plain JavaScript so that it runs before `tsc`).

/**
 * Make sure `binary` exists, installing Debian package `pkg` with apt-get when it does not
 * (as root or with password-less sudo). Otherwise throws with the exact command to run.
 * @returns the binary's path
 */
export declare function ensureDebianBinary(options: {
  binary: string;
  pkg: string;
  log?: (line: string) => void;
}): string;
