// Loads every system view module (import for side effects).
import './pg-catalog';
import './information-schema';
