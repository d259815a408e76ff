/** Outcome of one doctor check. */
export interface CheckLine {
  status: 'OK' | 'WARN' | 'FAIL';
  name: string;
  detail: string;
  /** What to do about a WARN or FAIL. */
  fix?: string;
}
