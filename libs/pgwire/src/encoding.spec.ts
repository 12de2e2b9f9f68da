import { canonicalEncodingName, SUPPORTED_CLIENT_ENCODINGS } from './encoding';

describe('encoding names as PostgreSQL reads them', () => {
  it.each([
    ["'utf-8'", 'UTF8'], ['utf-8', 'UTF8'], ['UTF8', 'UTF8'], ['utf_8', 'UTF8'], ['Unicode', 'UTF8'],
    ['sql_ascii', 'SQL_ASCII'], ['SQL-ASCII', 'SQL_ASCII'], ['latin1', 'LATIN1'], ['ISO-8859-1', 'LATIN1'], ['win1252', 'WIN1252'],
  ])('%s is %s', (name, canonical) => {
    expect(canonicalEncodingName(name)).toBe(canonical);
  });

  it('knows no made-up name, and Weft speaks only UTF8 and SQL_ASCII', () => {
    expect(canonicalEncodingName('klingon')).toBeUndefined();
    expect(canonicalEncodingName('')).toBeUndefined();
    expect([...SUPPORTED_CLIENT_ENCODINGS].sort()).toEqual(['SQL_ASCII', 'UTF8']);
  });
});
