// PL/pgSQL exception condition names (PostgreSQL's plerrcodes) -> SQLSTATE. The parser has
// already rejected names PostgreSQL does not know; a known name missing here is refused (0A000)
// rather than guessed. A code ending in '000' names its whole class, as in PostgreSQL.
export const CONDITIONS: Readonly<Record<string, string>> = {
  connection_exception: '08000', protocol_violation: '08P01',
  feature_not_supported: '0A000',
  case_not_found: '20000',
  cardinality_violation: '21000',
  data_exception: '22000', string_data_right_truncation: '22001', numeric_value_out_of_range: '22003', null_value_not_allowed: '22004',
  invalid_datetime_format: '22007', datetime_field_overflow: '22008', division_by_zero: '22012', character_not_in_repertoire: '22021',
  invalid_parameter_value: '22023', invalid_escape_sequence: '22025', invalid_regular_expression: '2201B', array_subscript_error: '2202E',
  sequence_generator_limit_exceeded: '2200H', invalid_json_text: '22032', invalid_text_representation: '22P02',
  invalid_binary_representation: '22P03', bad_copy_file_format: '22P04',
  integrity_constraint_violation: '23000', restrict_violation: '23001', not_null_violation: '23502', foreign_key_violation: '23503',
  unique_violation: '23505', check_violation: '23514', exclusion_violation: '23P01',
  invalid_cursor_state: '24000',
  invalid_transaction_state: '25000', active_sql_transaction: '25001', read_only_sql_transaction: '25006', in_failed_sql_transaction: '25P02',
  invalid_sql_statement_name: '26000',
  dependent_privilege_descriptors_still_exist: '2B000', dependent_objects_still_exist: '2BP01',
  invalid_cursor_name: '34000',
  savepoint_exception: '3B000', invalid_savepoint_specification: '3B001',
  invalid_catalog_name: '3D000', invalid_schema_name: '3F000',
  transaction_rollback: '40000', serialization_failure: '40001', deadlock_detected: '40P01',
  syntax_error_or_access_rule_violation: '42000', insufficient_privilege: '42501', syntax_error: '42601', invalid_name: '42602',
  invalid_column_definition: '42611', name_too_long: '42622', duplicate_column: '42701', ambiguous_column: '42702', undefined_column: '42703',
  undefined_object: '42704', duplicate_object: '42710', duplicate_alias: '42712', duplicate_function: '42723', ambiguous_function: '42725',
  grouping_error: '42803', datatype_mismatch: '42804', wrong_object_type: '42809', invalid_foreign_key: '42830', cannot_coerce: '42846',
  undefined_function: '42883', reserved_name: '42939', undefined_table: '42P01', undefined_parameter: '42P02', duplicate_cursor: '42P03',
  duplicate_database: '42P04', duplicate_prepared_statement: '42P05', duplicate_schema: '42P06', duplicate_table: '42P07',
  ambiguous_parameter: '42P08', ambiguous_alias: '42P09', invalid_column_reference: '42P10', invalid_cursor_definition: '42P11',
  invalid_database_definition: '42P12', invalid_function_definition: '42P13', invalid_prepared_statement_definition: '42P14',
  invalid_schema_definition: '42P15', invalid_table_definition: '42P16', invalid_object_definition: '42P17', indeterminate_datatype: '42P18',
  windowing_error: '42P20',
  insufficient_resources: '53000', disk_full: '53100', out_of_memory: '53200', too_many_connections: '53300',
  program_limit_exceeded: '54000', statement_too_complex: '54001', too_many_columns: '54011',
  object_not_in_prerequisite_state: '55000', object_in_use: '55006', lock_not_available: '55P03',
  query_canceled: '57014', admin_shutdown: '57P01',
  system_error: '58000', io_error: '58030', undefined_file: '58P01', duplicate_file: '58P02',
  plpgsql_error: 'P0000', raise_exception: 'P0001', no_data_found: 'P0002', too_many_rows: 'P0003', assert_failure: 'P0004',
  internal_error: 'XX000',
};

/** Whether a handler for `condition` (a SQLSTATE, a class code, or 'others') catches `code`. */
export function conditionMatches(condition: string, code: string): boolean {
  // OTHERS catches everything but cancellation and assertion failures, as in PostgreSQL.
  if (condition === 'others') return code !== '57014' && code !== 'P0004';
  if (condition.endsWith('000')) return code.slice(0, 2) === condition.slice(0, 2);
  return code === condition;
}
