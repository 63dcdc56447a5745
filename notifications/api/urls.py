"""Routes under /api/: recipients/ and deliveries/ (see notifications.api)."""

from rest_framework.routers import SimpleRouter

from notifications.api.views import DeliveryViewSet, RecipientViewSet

router = SimpleRouter()
router.register("recipients", RecipientViewSet, basename="recipient")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
