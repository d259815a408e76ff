import { EventValidationError, type EventIssue } from '../errors.js';
import { safeParseEvent, type DualEvent, type ParseEventOptions } from './schema.js';

/** One input of a batch that failed validation, by its position in the batch. */
export interface RejectedInput {
  /** Index of the input in the batch. */
  index: number;
  /** Every problem of that input (paths relative to the event). */
  issues: EventIssue[];
}

/** Result of {@link validateBatch}. */
export interface ValidatedBatch {
  /** The valid inputs, normalized, in input order. */
  events: DualEvent[];
  /** Index of each valid event in the batch (`events[i]` was input `indexes[i]`). */
  indexes: number[];
  /** The invalid inputs, in input order; empty when the whole batch is valid. */
  rejected: RejectedInput[];
}

/**
 * Validate every input of a batch, never throwing: what each caller does with an invalid input
 * differs (the HTTP API answers 400 with the issues by index, `enqueueEvents` throws one
 * {@link EventValidationError}, `dualstream enqueue` reports the line), the validation does not.
 */
export function validateBatch(
  inputs: readonly unknown[],
  options: ParseEventOptions = {},
): ValidatedBatch {
  const out: ValidatedBatch = { events: [], indexes: [], rejected: [] };
  inputs.forEach((input, index) => {
    const r = safeParseEvent(input, options);
    if (r.success) {
      out.events.push(r.event);
      out.indexes.push(index);
    } else {
      out.rejected.push({ index, issues: r.error.issues });
    }
  });
  return out;
}

/**
 * Validate every input and return the events, or throw one {@link EventValidationError} whose
 * issue paths carry the index (`[2].sourceId`) of every bad input. All or nothing.
 */
export function parseBatch(
  inputs: readonly unknown[],
  options: ParseEventOptions = {},
): DualEvent[] {
  const { events, rejected } = validateBatch(inputs, options);
  if (rejected.length > 0) {
    throw new EventValidationError(
      rejected.flatMap(({ index, issues }) =>
        issues.map((issue) => ({
          ...issue,
          path: issue.path ? `[${index}].${issue.path}` : `[${index}]`,
        })),
      ),
    );
  }
  return events;
}

/** The issues of one input as one readable line (`path: message; ...`). */
export function describeIssues(issues: readonly EventIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
