"""Index constants of the packed state arrays shared by the kernel, the strategies and the Python driver.

The kernel keeps all its state in a handful of flat numpy arrays (so it can be carried across chunks
and resized from Python). Module-level ints are compile-time constants for numba.
"""

from __future__ import annotations

INF = 2**63 - 1
NO_PRICE = 2**63 - 1  # UNDEF_PRICE

# --- event kinds / codes ------------------------------------------------------------------------------
EV_DELTA = 0
EV_TRADE = 1

ADD = 1
REDUCE = 2
EXECUTE = 3
SET = 4
CLEAR = 5

# order types / tif / status (ORDERS schema codes)
OT_MARKET = 0
OT_LIMIT = 1
TIF_GTC = 0
TIF_IOC = 1
TIF_FOK = 2
TIF_POST = 3
ST_PENDING = -1
ST_OPEN = 0
ST_FILLED = 1
ST_CANCELLED = 2
ST_REJECTED = 3
ST_EXPIRED = 4

# strategy actions
A_SUBMIT = 1
A_CANCEL = 2
A_MODIFY = 3
# action row columns
AC_KIND = 0
AC_SIDE = 1
AC_TYPE = 2
AC_TIF = 3
AC_PRICE = 4
AC_SIZE = 5
AC_OID = 6
N_AC = 8
MAX_ACTIONS = 64

# requests (strategy -> exchange)
RQ_T = 0
RQ_KIND = 1
RQ_SLOT = 2
RQ_OID = 3
RQ_PRICE = 4
RQ_SIZE = 5
RQ_NO = 6  # insertion number: equal arrival times are processed first-sent first
N_RQ = 8

# responses (exchange -> strategy)
RS_T = 0
RS_SLOT = 1
RS_OID = 2
RS_KIND = 3
RS_FILL = 4  # signed fill size
RS_STATUS = 5
RS_FILLED = 6
RS_PRICE = 7
N_RS = 8
R_ACK = 1
R_FILL = 2
R_DONE = 3
R_CXL_REJECT = 4
R_MOD_ACK = 5
R_MOD_REJECT = 6

# feed ring (exchange -> strategy's view of the market)
FR_T = 0
FR_BID_PX = 1
FR_BID_SZ = 2
FR_ASK_PX = 3
FR_ASK_SZ = 4
FR_TRADE_PX = 5
FR_TRADE_SZ = 6
FR_TRADE_AGGR = 7
FR_SEQ = 8
FR_EXCH_T = 9
N_FR = 10

# order slots (int columns)
O_INUSE = 0
O_OID = 1
O_SIDE = 2
O_TYPE = 3
O_TIF = 4
O_PRICE = 5
O_SIZE = 6
O_FILLED = 7
O_STATUS = 8
O_TS_SUBMIT = 9
O_TS_EXCH = 10
O_TS_DONE = 11
O_PRIO = 12
O_CTR = 13
O_SEEN_STATUS = 14
O_SEEN_FILLED = 15
O_CXL_SENT = 16
O_SEEN_PRICE = 17
O_SEEN_SIZE = 18
O_RESTING = 19
O_MOD_SENT = 20
N_O = 24
# order slots (float columns)
OF_Q = 0
N_OF = 2

# scalar int state
S_BASE = 0
S_BB = 1
S_BA = 2
S_POS = 3
S_POS_SEEN = 4
S_NEXT_OID = 5
S_NFILL_G = 6
S_NEXT_WAKE = 7
S_RING_H = 8
S_RING_T = 9
S_RESP_H = 10
S_RESP_T = 11
S_NREQ = 12
S_NREST = 13
S_NO = 14
S_NF = 15
S_NE = 16
S_NM = 17
S_PRED_PTR = 18
S_SCRIPT_PTR = 19
S_DROPPED = 20
S_REJ_EXCH = 22
S_CXL_REJ = 23
S_ADD_CTR = 24
S_RATE_H = 25
S_NEXT_EQ = 26
S_BOOK_NEG = 27
S_INITED = 28
S_LAST_TS = 29
S_LAST_LOCAL = 30
S_DONE = 31
S_NFREE = 32
S_UNKNOWN_AGGR = 33
S_PRIO = 34
S_REQ_MIN = 35
S_NWAKES = 36
S_NCALLS = 37
S_MID2 = 38  # last valid best bid + best ask (1e-9 units), 0 before the first two-sided book
S_REJ_POS = 39
S_REJ_NOTIONAL = 40
S_REJ_RATE = 41
S_REJ_SLOTS = 42
S_NSUBMIT = 43
S_NCANCEL = 44
S_NMODIFY = 45
S_MOD_REJ = 46
S_NEVENTS = 47
V_BID_PX = 48
V_BID_SZ = 49
V_ASK_PX = 50
V_ASK_SZ = 51
V_TRADE_PX = 52
V_TRADE_SZ = 53
V_TRADE_AGGR = 54
V_SEQ = 55
V_T = 56  # strategy clock now
V_EXCH_T = 57  # exchange time of the last event the strategy has seen
S_MKH = 60  # 8 markout ring heads
S_MKT = 68  # 8 markout ring tails
S_FLAT_SHORT = 76  # quantity the end-of-stream flatten could not fill
S_NRECENTER = 77
S_POST_REJ = 78
S_STG_TPX = 79  # last trade of the current venue message, not yet published
S_STG_TSZ = 80
S_STG_TAGGR = 81
S_REQ_NO = 82
S_FIFO_USED = 83  # occupied slots (live + deleted) of the order-id hash table
S_RB_BID_MAX = 84  # price range of our resting orders per side (a cheap filter for market events)
S_RB_BID_MIN = 85
S_RB_ASK_MIN = 86
S_RB_ASK_MAX = 87
S_HWM = 88  # order slots in use are all below this index
S_SEEN_VER = 89  # bumped whenever the strategy's own view of its orders changes (memoisation key)
S_DIRTY = 90  # some output or queue grew since the last capacity check
BIG = 2**62
N_SI = 96

# scalar float state
F_CASH = 0
F_FEES = 1
F_SPREAD = 2
F_NOTIONAL = 3
F_MAKER_UNITS = 4
F_TAKER_UNITS = 5
F_PRED_T = 6
N_SF = 16

# int config
C_NT = 0
C_TICK = 1
C_SUBMIT_NS = 2
C_CANCEL_NS = 3
C_MODIFY_NS = 4
C_RESP_NS = 5
C_QUEUE = 6  # 0 conservative, 1 probabilistic, 2 fifo
C_QFAMILY = 7  # 0 power, 1 log
C_TRADE_SRC = 8  # 0 TRADES rows advance queues, 1 EXECUTE deltas do
C_WAKE_NS = 9
C_EVERY_EVENT = 10
C_STRAT = 11
C_MAX_POS = 12
C_MAX_RATE = 13
C_EQ_NS = 14
C_NHOR = 15
C_HOR = 16  # 8 horizons
C_FILL_MODEL = 24  # 0 book, 1 infinite size at mid
C_FLATTEN = 25
C_PRED_MAX_AGE = 26
C_NPRED = 27
N_CI = 32

# float config
CF_MAKER_BPS = 0
CF_TAKER_BPS = 1
CF_MAKER_PU = 2
CF_TAKER_PU = 3
CF_MIN_FEE = 4
CF_SIZE_UNIT = 5
CF_MULT = 6
CF_QPOW = 7
CF_MAX_NOTIONAL = 8
N_CF = 16

# book rows
B_BID = 0
B_ASK = 1
B_BID_CONS = 2
B_ASK_CONS = 3
B_BID_PEND = 4
B_ASK_PEND = 5
B_WALK_PX = 6  # scratch rows for walking the book (no allocation inside the kernel)
B_WALK_SZ = 7
B_WALK_IX = 8
N_B = 9

# output columns
OO_N = 11  # orders: order_id, ts_submit, ts_exchange, ts_done, side, type, tif, price, size, filled, status
OFI_N = 7  # fills int: order_id, ts_exchange, side, price, size, maker, global index
OFF_N = 3  # fills float: fee, mid at fill (currency), position after (size units)
OE_N = 4  # equity float: position units, cash, mid, equity
OM_N = 3  # markouts: global fill index, horizon index, mid (float)

# strategies
STRAT_NONE = 0
STRAT_TAKER = 1
STRAT_MM = 2
STRAT_SCRIPT = 3

# kernel return codes
RC_NEED_DATA = 0
RC_FLUSH = 1
RC_GROW_RING = 2
RC_GROW_RESP = 3
RC_GROW_MK = 4
RC_FINISHED = 5
RC_GROW_FIFO = 6

# order-id hash table rows (FIFO queue model)
H_KEY = 0  # 0 empty, -1 deleted
H_CTR = 1
H_REM = 2
