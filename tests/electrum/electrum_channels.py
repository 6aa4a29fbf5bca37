"""Two in-memory Electrum 4.3.4 channels (Alice <-> Bob), built without a network.

Shared by electrum_client_sync.py.  Run with /usr/bin/python3 (Debian's
python3-electrum 4.3.4); the pyenv `python3` on PATH has no electrum.

create_channel_state / bip32 / create_test_channels / force_state_transition are
copied from Electrum 4.3.4's own unit tests (electrum/tests/test_lnchannel.py at
tag 4.3.4, MIT licence; Debian does not ship the tests).  The only changes:
  * create_test_channels takes `funding_txid` / `funding_index` / `funding_sat`
    instead of drawing a random funding txid, so the channel can sit on a real
    (or at least self-consistent) funding transaction, see make_funding_tx();
  * the PRNG seed is fixed (deterministic keys, per-commitment seeds);
  * force_state_transition takes a callback run whenever Bob receives a new
    commitment, so the harness can capture Bob's fully signed commitment (and
    his signed first-stage HTLC transactions) while that state is still current.
    Once revoked, Electrum no longer keeps the counter-signature, so this is the
    only moment a *broadcastable* revoked commitment can be obtained.
"""

import binascii
import hashlib
from pprint import pformat

from electrum import bitcoin
from electrum import lnpeer
from electrum import lnchannel
from electrum import lnutil
from electrum import bip32 as bip32_utils
from electrum.lnutil import LOCAL, REMOTE
from electrum.lnchannel import ChannelState
from electrum.json_db import StoredDict
from electrum.coinchooser import PRNG
from electrum.transaction import Transaction, TxOutpoint
from electrum.util import bfh

one_bitcoin_in_msat = bitcoin.COIN * 1000


# --- copied from electrum/tests/test_lnchannel.py (4.3.4), only reformatted ----
def create_channel_state(funding_txid, funding_index, funding_sat, is_initiator,
                         local_amount, remote_amount, privkeys, other_pubkeys,
                         seed, cur, nex, other_node_id, l_dust, r_dust, l_csv,
                         r_csv):
    channel_id, _ = lnpeer.channel_id_from_funding_tx(funding_txid, funding_index)
    state = {
            "channel_id": channel_id.hex(),
            "short_channel_id": channel_id[:8],
            "funding_outpoint": lnpeer.Outpoint(funding_txid, funding_index),
            "remote_config": lnpeer.RemoteConfig(
                payment_basepoint=other_pubkeys[0],
                multisig_key=other_pubkeys[1],
                htlc_basepoint=other_pubkeys[2],
                delayed_basepoint=other_pubkeys[3],
                revocation_basepoint=other_pubkeys[4],
                to_self_delay=r_csv,
                dust_limit_sat=r_dust,
                max_htlc_value_in_flight_msat=one_bitcoin_in_msat * 5,
                max_accepted_htlcs=5,
                initial_msat=remote_amount,
                reserve_sat=0,
                htlc_minimum_msat=1,
                next_per_commitment_point=nex,
                current_per_commitment_point=cur,
                upfront_shutdown_script=b'',
            ),
            "local_config": lnpeer.LocalConfig(
                channel_seed=None,
                payment_basepoint=privkeys[0],
                multisig_key=privkeys[1],
                htlc_basepoint=privkeys[2],
                delayed_basepoint=privkeys[3],
                revocation_basepoint=privkeys[4],
                to_self_delay=l_csv,
                dust_limit_sat=l_dust,
                max_htlc_value_in_flight_msat=one_bitcoin_in_msat * 5,
                max_accepted_htlcs=5,
                initial_msat=local_amount,
                reserve_sat=0,
                per_commitment_secret_seed=seed,
                funding_locked_received=True,
                was_announced=False,
                current_commitment_signature=None,
                current_htlc_signatures=None,
                htlc_minimum_msat=1,
                upfront_shutdown_script=b'',
            ),
            "constraints": lnpeer.ChannelConstraints(
                capacity=funding_sat,
                is_initiator=is_initiator,
                funding_txn_minimum_depth=3,
            ),
            "node_id": other_node_id.hex(),
            'onion_keys': {},
            'data_loss_protect_remote_pcp': {},
            'state': 'PREOPENING',
            'log': {},
            'fail_htlc_reasons': {},
            'unfulfilled_htlcs': {},
            'revocation_store': {},
            'channel_type': lnutil.ChannelType.OPTION_STATIC_REMOTEKEY
    }
    return StoredDict(state, None, [])


def bip32(sequence):
    node = bip32_utils.BIP32Node.from_rootseed(b"9dk", xtype='standard').subkey_at_private_derivation(sequence)
    k = node.eckey.get_secret_bytes()
    assert len(k) == 32
    assert type(k) is bytes
    return k
# -----------------------------------------------------------------------------


def _keys():
    alice_raw = [bip32("m/" + str(i)) for i in range(5)]
    bob_raw = [bip32("m/" + str(i)) for i in range(5, 11)]
    alice_privkeys = [lnutil.Keypair(lnutil.privkey_to_pubkey(x), x) for x in alice_raw]
    bob_privkeys = [lnutil.Keypair(lnutil.privkey_to_pubkey(x), x) for x in bob_raw]
    return alice_privkeys, bob_privkeys


def funding_redeem_script_and_address():
    """The 2-of-2 funding script depends only on the two multisig keys, which are
    fixed (bip32 'm/1' for Alice, 'm/6' for Bob, root seed b'9dk' as in Electrum's
    tests), so the funding address is known before any channel exists."""
    alice_privkeys, bob_privkeys = _keys()
    script = lnutil.funding_output_script_from_keys(alice_privkeys[1].pubkey, bob_privkeys[1].pubkey)
    return script, bitcoin.redeem_script_to_address('p2wsh', script)


def make_funding_tx(funding_prevout: str, funding_sat: int) -> Transaction:
    """A funding transaction whose output 0 is the channel's 2-of-2 P2WSH.

    Its single input spends `funding_prevout` and is UNSIGNED (empty scriptSig,
    no witness): nobody here owns a real coin.  Its txid is well defined (txid
    excludes witnesses), the channel is built on `<txid>:0`, and every commitment
    transaction is then fully and correctly signed against that output.  So a
    chain that checks input existence (and even one that checks scripts of the
    commitment/sweeps, but not of this one funding input) accepts the whole
    chain of transactions funding -> revoked commitment -> sweeps.
    """
    _, address = funding_redeem_script_and_address()
    prevout = TxOutpoint.from_str(funding_prevout)
    spk = bfh(bitcoin.address_to_script(address))
    raw = (int.to_bytes(2, 4, 'little')                       # nVersion 2
           + b'\x01' + prevout.serialize_to_network()         # 1 input: prevout
           + b'\x00' + b'\xff\xff\xff\xff'                   # empty scriptSig, nSequence final
           + b'\x01' + int.to_bytes(funding_sat, 8, 'little')  # 1 output: value
           + bytes([len(spk)]) + spk                           #   P2WSH 2-of-2
           + bytes(4)).hex()                                   # nLockTime 0
    return Transaction(raw)


def create_test_channels(*, funding_txid: str, funding_index: int, funding_sat: int,
                         feerate=6000, local_msat=None, remote_msat=None,
                         alice_name="alice", bob_name="bob",
                         alice_pubkey=b"\x01"*33, bob_pubkey=b"\x02"*33,
                         random_seed=b"argus-electrum-harness-seed-0001"):
    """Electrum 4.3.4 tests' create_test_channels, with the funding outpoint given."""
    random_gen = PRNG(random_seed)
    random_gen.get_bytes(32)  # the original draws the (random) funding txid here; keep the stream aligned
    local_amount = local_msat if local_msat is not None else (funding_sat * 1000 // 2)
    remote_amount = remote_msat if remote_msat is not None else (funding_sat * 1000 // 2)
    alice_privkeys, bob_privkeys = _keys()
    alice_pubkeys = [lnutil.OnlyPubkeyKeypair(x.pubkey) for x in alice_privkeys]
    bob_pubkeys = [lnutil.OnlyPubkeyKeypair(x.pubkey) for x in bob_privkeys]

    alice_seed = random_gen.get_bytes(32)
    bob_seed = random_gen.get_bytes(32)

    alice_first = lnutil.secret_to_pubkey(
        int.from_bytes(lnutil.get_per_commitment_secret_from_seed(
            alice_seed, lnutil.RevocationStore.START_INDEX), "big"))
    bob_first = lnutil.secret_to_pubkey(
        int.from_bytes(lnutil.get_per_commitment_secret_from_seed(
            bob_seed, lnutil.RevocationStore.START_INDEX), "big"))

    alice, bob = (
        lnchannel.Channel(
            create_channel_state(
                funding_txid, funding_index, funding_sat, True, local_amount,
                remote_amount, alice_privkeys, bob_pubkeys, alice_seed, None,
                bob_first, other_node_id=bob_pubkey, l_dust=200, r_dust=1300,
                l_csv=5, r_csv=4
            ),
            name=f"{alice_name}->{bob_name}",
            initial_feerate=feerate),
        lnchannel.Channel(
            create_channel_state(
                funding_txid, funding_index, funding_sat, False, remote_amount,
                local_amount, bob_privkeys, alice_pubkeys, bob_seed, None,
                alice_first, other_node_id=alice_pubkey, l_dust=1300, r_dust=200,
                l_csv=4, r_csv=5
            ),
            name=f"{bob_name}->{alice_name}",
            initial_feerate=feerate)
    )

    alice.hm.log[LOCAL]['ctn'] = 0
    bob.hm.log[LOCAL]['ctn'] = 0

    alice._state = ChannelState.OPEN
    bob._state = ChannelState.OPEN

    a_out = alice.get_latest_commitment(LOCAL).outputs()
    b_out = bob.get_next_commitment(REMOTE).outputs()
    assert a_out == b_out, "\n" + pformat((a_out, b_out))

    sig_from_bob, a_htlc_sigs = bob.sign_next_commitment()
    sig_from_alice, b_htlc_sigs = alice.sign_next_commitment()

    assert len(a_htlc_sigs) == 0
    assert len(b_htlc_sigs) == 0

    alice.open_with_first_pcp(bob_first, sig_from_bob)
    bob.open_with_first_pcp(alice_first, sig_from_alice)

    alice_second = lnutil.secret_to_pubkey(int.from_bytes(lnutil.get_per_commitment_secret_from_seed(alice_seed, lnutil.RevocationStore.START_INDEX - 1), "big"))
    bob_second = lnutil.secret_to_pubkey(int.from_bytes(lnutil.get_per_commitment_secret_from_seed(bob_seed, lnutil.RevocationStore.START_INDEX - 1), "big"))

    # from funding_locked:
    alice.config[REMOTE].next_per_commitment_point = bob_second
    bob.config[REMOTE].next_per_commitment_point = alice_second

    alice._fallback_sweep_address = bitcoin.pubkey_to_address('p2wpkh', alice.config[LOCAL].payment_basepoint.pubkey.hex())
    bob._fallback_sweep_address = bitcoin.pubkey_to_address('p2wpkh', bob.config[LOCAL].payment_basepoint.pubkey.hex())

    return alice, bob


def force_state_transition(chanA, chanB, on_new_commitment=None):
    """Electrum tests' force_state_transition (test_lnchannel.py), plus a hook
    called as on_new_commitment(chan) right after a channel receives (and
    stores the counter-signature of) a new local commitment."""
    chanB.receive_new_commitment(*chanA.sign_next_commitment())
    if on_new_commitment:
        on_new_commitment(chanB)
    rev = chanB.revoke_current_commitment()
    bob_sig, bob_htlc_sigs = chanB.sign_next_commitment()
    chanA.receive_revocation(rev)
    chanA.receive_new_commitment(bob_sig, bob_htlc_sigs)
    if on_new_commitment:
        on_new_commitment(chanA)
    chanB.receive_revocation(chanA.revoke_current_commitment())


def preimage(tag: str) -> bytes:
    return hashlib.sha256(b"argus-electrum-harness-preimage-" + tag.encode()).digest()
