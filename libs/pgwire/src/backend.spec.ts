/** Every backend message writer, read back by pg-protocol's client-side parser. */
import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import * as be from './backend';
import { BufferWriter } from './buffer-writer';
import { PgError } from './errors';
import { Oid } from './types';

function parse(write: (w: BufferWriter) => void): (BackendMessage & Record<string, unknown>)[] {
  const w = new BufferWriter(8);
  write(w);
  const out: (BackendMessage & Record<string, unknown>)[] = [];
  new Parser().parse(w.flush(), (m) => out.push(m as BackendMessage & Record<string, unknown>));
  return out;
}

describe('backend messages', () => {
  it('authentication family', () => {
    const salt = Buffer.from([1, 2, 3, 4]);
    const msgs = parse((w) => {
      be.authenticationOk(w);
      be.authenticationCleartextPassword(w);
      be.authenticationMD5Password(w, salt);
      be.authenticationSASL(w, ['SCRAM-SHA-256']);
      be.authenticationSASLContinue(w, 'r=abc,s=c2FsdA==,i=4096');
      be.authenticationSASLFinal(w, 'v=xyz');
    });
    expect(msgs.map((m) => m.name)).toEqual([
      'authenticationOk',
      'authenticationCleartextPassword',
      'authenticationMD5Password',
      'authenticationSASL',
      'authenticationSASLContinue',
      'authenticationSASLFinal',
    ]);
    expect(msgs[2].salt).toEqual(salt);
    expect(msgs[3].mechanisms).toEqual(['SCRAM-SHA-256']);
    expect(msgs[4].data).toBe('r=abc,s=c2FsdA==,i=4096');
    expect(msgs[5].data).toBe('v=xyz');
  });

  it('session and query messages', () => {
    const msgs = parse((w) => {
      be.parameterStatus(w, 'DateStyle', 'ISO, MDY');
      be.backendKeyData(w, 1234, -5);
      be.readyForQuery(w, 'E');
      be.rowDescription(w, [
        { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: Oid.int8, typeSize: 8, typeModifier: -1, format: 1 },
        { name: 'naïve', tableOid: 0, columnAttr: 0, typeOid: Oid.varchar, typeSize: -1, typeModifier: 14, format: 0 },
      ]);
      be.dataRow(w, ['x', null, Buffer.from([0, 1])]);
      be.commandComplete(w, 'INSERT 0 1');
      be.emptyQueryResponse(w);
      be.parseComplete(w);
      be.bindComplete(w);
      be.closeComplete(w);
      be.noData(w);
      be.parameterDescription(w, [Oid.int4, Oid.text, 4294967295]);
      be.portalSuspended(w);
    });
    expect(msgs.map((m) => m.name)).toEqual([
      'parameterStatus',
      'backendKeyData',
      'readyForQuery',
      'rowDescription',
      'dataRow',
      'commandComplete',
      'emptyQuery',
      'parseComplete',
      'bindComplete',
      'closeComplete',
      'noData',
      'parameterDescription',
      'portalSuspended',
    ]);
    expect(msgs[0]).toMatchObject({ parameterName: 'DateStyle', parameterValue: 'ISO, MDY' });
    expect(msgs[1]).toMatchObject({ processID: 1234, secretKey: -5 });
    expect(msgs[2]).toMatchObject({ status: 'E' });
    expect(msgs[3].fields).toEqual([
      { name: 'id', tableID: 16384, columnID: 1, dataTypeID: Oid.int8, dataTypeSize: 8, dataTypeModifier: -1, format: 'binary' },
      { name: 'naïve', tableID: 0, columnID: 0, dataTypeID: Oid.varchar, dataTypeSize: -1, dataTypeModifier: 14, format: 'text' },
    ]);
    expect(msgs[4].fields).toEqual(['x', null, '\u0000\u0001']);
    expect(msgs[5].text).toBe('INSERT 0 1');
    expect(msgs[11].dataTypeIDs).toEqual([Oid.int4, Oid.text, 4294967295]);
  });

  it('ErrorResponse and NoticeResponse carry every field', () => {
    const msgs = parse((w) => {
      be.errorResponse(
        w,
        new PgError('23505', 'duplicate key value violates unique constraint "t_pkey"', {
          detail: 'Key (id)=(1) already exists.',
          hint: 'h',
          position: 7,
          schema: 'public',
          table: 't',
          column: 'id',
          dataType: 'int4',
          constraint: 't_pkey',
          where: 'w',
          internalPosition: 3,
          internalQuery: 'q',
        }),
      );
      be.noticeResponse(w, { severity: 'WARNING', code: '01000', message: 'careful', detail: 'd' });
    });
    expect(msgs[0]).toMatchObject({
      name: 'error',
      severity: 'ERROR',
      code: '23505',
      message: 'duplicate key value violates unique constraint "t_pkey"',
      detail: 'Key (id)=(1) already exists.',
      hint: 'h',
      position: '7',
      schema: 'public',
      table: 't',
      column: 'id',
      dataType: 'int4',
      constraint: 't_pkey',
      where: 'w',
      internalPosition: '3',
      internalQuery: 'q',
    });
    expect(msgs[1]).toMatchObject({ name: 'notice', severity: 'WARNING', code: '01000', message: 'careful', detail: 'd' });
  });

  it('COPY messages', () => {
    const msgs = parse((w) => {
      be.copyInResponse(w, 0, [0, 0]);
      be.copyOutResponse(w, 1, [1]);
      be.copyData(w, 'a\tb\n');
      be.copyData(w, Buffer.from([0xff]));
      be.copyDone(w);
    });
    expect(msgs.map((m) => m.name)).toEqual(['copyInResponse', 'copyOutResponse', 'copyData', 'copyData', 'copyDone']);
    expect(msgs[0]).toMatchObject({ binary: false, columnTypes: [0, 0] });
    expect(msgs[1]).toMatchObject({ binary: true, columnTypes: [1] });
    expect(msgs[2].chunk).toEqual(Buffer.from('a\tb\n'));
    expect(msgs[3].chunk).toEqual(Buffer.from([0xff]));
  });

  it('NegotiateProtocolVersion layout', () => {
    const w = new BufferWriter();
    be.negotiateProtocolVersion(w, 0, ['_pq_.a', '_pq_.b']);
    const b = w.flush();
    expect(b[0]).toBe(0x76);
    expect(b.readInt32BE(1)).toBe(b.length - 1);
    expect(b.readInt32BE(5)).toBe(0);
    expect(b.readInt32BE(9)).toBe(2);
    expect(b.subarray(13).toString()).toBe('_pq_.a\0_pq_.b\0');
  });

  it('writer grows across many messages', () => {
    const msgs = parse((w) => {
      for (let i = 0; i < 5000; i++) be.dataRow(w, [String(i), 'x'.repeat(i % 50)]);
    });
    expect(msgs).toHaveLength(5000);
    expect(msgs[4999].fields).toEqual(['4999', 'x'.repeat(4999 % 50)]);
  });
});
