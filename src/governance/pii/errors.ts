import { InternalError } from '../../core/errors.js';

/**
 * Input the scrubber cannot process safely, such as a CSV record or JSON line over the
 * size limit (often an unbalanced quote). It fails this one file: writing the rest
 * unscrubbed or guessing would risk leaking what the scrubber should have removed.
 */
export class ScrubInputError extends InternalError {}
