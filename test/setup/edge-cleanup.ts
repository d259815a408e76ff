// Registered first in every test file, so that its afterAll runs last (vitest runs after-hooks
// as a stack): the edge history that the file's workers wrote goes once they are closed.
import { afterAll } from 'vitest';
import { removeTrackedEdgeState } from '../helpers/edge-cleanup.js';

afterAll(removeTrackedEdgeState);
