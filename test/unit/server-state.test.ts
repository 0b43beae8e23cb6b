// Which saved server states may follow a slot across a reload: only where the slot keeps its endpoint.
import t from 'tap';
import { EMPTY_SERVER_STATE, filterServerState, keptSlots } from '../../src/core/server-state.ts';
import type { Layout } from '../../src/core/slots.ts';

const HEADER = '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
const row = (srv: string, addr: string, port: number, op = 0, admin = 0): string => `3 be_a 1 ${srv} ${addr} ${op} ${admin} 1 1 19 8 2 0 6 0 0 0 - ${port} - 0 0 - - 0`;

const before: Layout = {
  be_a: [
    { name: 'srv1', endpoint: { address: '10.0.0.1', port: 80 } },
    { name: 'srv2', endpoint: { address: '10.0.0.2', port: 80 } },
    { name: 'srv3', endpoint: null },
    { name: 'srv4', endpoint: { address: '10.0.0.4', port: 80 } },
  ],
};
const after: Layout = {
  be_a: [
    { name: 'srv1', endpoint: { address: '10.0.0.1', port: 80 } },
    { name: 'srv2', endpoint: { address: '10.0.0.9', port: 80 } },
    { name: 'srv3', endpoint: { address: '10.0.0.3', port: 80 } },
    { name: 'srv4', endpoint: null },
  ],
  be_new: [{ name: 'srv1', endpoint: { address: '10.0.0.1', port: 80 } }],
};

t.test('only slots holding the same endpoint before and after are kept', async (t) => {
  const kept = keptSlots(before, after);
  t.strictSame([...kept.keys()], ['be_a']);
  t.strictSame([...(kept.get('be_a')?.keys() ?? [])], ['srv1'], 'srv2 moved to another pod, srv3 was free, srv4 is freed, be_new is new');
  t.equal(keptSlots(null, after).size, 0, 'nothing known before: nothing kept');
});

t.test('lines are kept only for kept slots whose address HAProxy reports as the slot\'s', async (t) => {
  const dump = ['1', HEADER, row('srv1', '10.0.0.1', 80, 0), row('srv2', '10.0.0.2', 80, 0), row('srv3', '10.0.0.3', 80, 0, 1), ''].join('\n');
  t.equal(filterServerState(dump, keptSlots(before, after)), `1\n${HEADER}\n${row('srv1', '10.0.0.1', 80, 0)}\n`);
  const moved = ['1', HEADER, row('srv1', '10.0.0.7', 80, 0), ''].join('\n');
  t.equal(filterServerState(moved, keptSlots(before, after)), `1\n${HEADER}\n`, 'HAProxy runs another address in the slot (drift): not kept');
  const otherPort = ['1', HEADER, row('srv1', '10.0.0.1', 81, 0), ''].join('\n');
  t.equal(filterServerState(otherPort, keptSlots(before, after)), `1\n${HEADER}\n`, 'another port: not kept');
});

t.test('a line in forced maintenance is dropped; DRAIN and the health found are kept', async (t) => {
  const kept = keptSlots(before, after);
  t.equal(filterServerState(['1', HEADER, row('srv1', '10.0.0.1', 80, 0, 1), ''].join('\n'), kept), `1\n${HEADER}\n`, 'MAINT dropped');
  t.equal(filterServerState(['1', HEADER, row('srv1', '10.0.0.1', 80, 0, 0), ''].join('\n'), kept), `1\n${HEADER}\n${row('srv1', '10.0.0.1', 80, 0, 0)}\n`, 'DOWN kept');
  t.equal(filterServerState(['1', HEADER, row('srv1', '10.0.0.1', 80, 2, 8), ''].join('\n'), kept), `1\n${HEADER}\n${row('srv1', '10.0.0.1', 80, 2, 8)}\n`, 'DRAIN kept');
});

t.test('an answer in a format not known keeps nothing', async (t) => {
  const kept = keptSlots(before, after);
  t.equal(filterServerState(`2\n${HEADER}\n${row('srv1', '10.0.0.1', 80)}\n`, kept), EMPTY_SERVER_STATE, 'another version');
  t.equal(filterServerState(`1\n# be_name srv_name\nbe_a srv1\n`, kept), EMPTY_SERVER_STATE, 'no address column');
  t.equal(filterServerState('Unknown command', kept), EMPTY_SERVER_STATE);
  t.equal(filterServerState(`1\n${HEADER}\n3 be_a 1 srv1 10.0.0.1\n`, kept), `1\n${HEADER}\n`, 'a short line is dropped');
});
