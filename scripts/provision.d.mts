// Types for scripts/provision.mjs (plain JavaScript so that it runs before `tsc`).

export interface EnsureDebianBinaryOptions {
  /** Absolute path of the executable the caller needs, e.g. `/usr/bin/prometheus`. */
  binary: string;
  /** Debian package that installs it. */
  pkg: string;
  /** Receives a line when an installation starts. @defaultValue silent */
  log?: (line: string) => void;
}

/**
 * Make sure `binary` exists, installing Debian package `pkg` with apt-get (as root or with
 * password-less sudo) when it does not; throws with the command to run where it cannot.
 * Returns the binary's path.
 */
export declare function ensureDebianBinary(options: EnsureDebianBinaryOptions): string;
