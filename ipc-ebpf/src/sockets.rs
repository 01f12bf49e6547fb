//! `skb_copy_datagram_iovec`: bytes copied out of socket buffers into traced processes.

use aya_ebpf::{
    macros::{btf_tracepoint, tracepoint},
    programs::{BtfTracePointContext, TracePointContext},
    EbpfContext,
};
use ipc_ebpf::offsets;

use crate::access::{add, field};
use crate::threads::current_measuring_slot;
use crate::SKB_COPIED;

/// Bytes a traced process copies out of a socket buffer into user memory (receive paths).
#[tracepoint]
pub fn skb_copy_datagram_iovec(ctx: TracePointContext) -> u32 {
    on_skb_copy(&ctx, field::<i32>(&ctx, offsets::SKB_COPY_LEN));
    0
}

/// `skb_copy_datagram_iovec(const struct sk_buff *skb, int len)`.
#[btf_tracepoint(function = "skb_copy_datagram_iovec")]
pub fn skb_copy_datagram_iovec_btf(ctx: BtfTracePointContext) -> i32 {
    let len: i32 = ctx.arg(1);
    on_skb_copy(&ctx, len);
    0
}

/// Adds `len` bytes copied out of a socket buffer by the current thread, if it is measuring.
#[inline(always)]
fn on_skb_copy<C: EbpfContext>(ctx: &C, len: i32) {
    if len <= 0 {
        return;
    }
    let Some(slot) = current_measuring_slot(ctx) else {
        return;
    };
    if let Some(bytes) = SKB_COPIED.get_ptr_mut(slot) {
        add(bytes, len as u64);
    }
}
