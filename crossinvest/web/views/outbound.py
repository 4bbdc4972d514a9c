"""在外地投资 page: Shanghai's investment elsewhere by destination, industry and support region."""

from crossinvest.web.views.flows import OUTBOUND, page_router

router = page_router(OUTBOUND)
