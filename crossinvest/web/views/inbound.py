"""来沪投资 page: investment into Shanghai by origin, district and industry (see ``flows``)."""

from crossinvest.web.views.flows import INBOUND, page_router

router = page_router(INBOUND)
