// Loads every builtin function module into the registry (import for side effects).
import './string';
import './math';
import './datetime';
import './json';
import './system';
import './enum';
export { register, lookupFunction, hasFunction, type FunctionDef } from './registry';
