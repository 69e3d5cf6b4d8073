"""小铺优选 demo shop: a small order/bill/membership service for kefu's demo HTTP tools.

Loaded from τ²-bench retail's db.json into its own SQLite file, with generated mobile
numbers, 小铺流量卡 bills and membership history; see docs/demo-shop.md in kefu's repository.
It is its own project and never imports kefu: kefu reaches it only over HTTP tools.
"""

from kefu_demo_shop.app import create_shop_app
from kefu_demo_shop.data import DB_FILENAME, ensure_database, find_source
from kefu_demo_shop.errors import ShopConfigError, ShopError
from kefu_demo_shop.membership import DOWNGRADED_USER
from kefu_demo_shop.seed_extra import BILL_SHOCK_USER, DEMO_PHONES

__all__ = [
    "BILL_SHOCK_USER",
    "DB_FILENAME",
    "DEMO_PHONES",
    "DOWNGRADED_USER",
    "ShopConfigError",
    "ShopError",
    "create_shop_app",
    "ensure_database",
    "find_source",
]
