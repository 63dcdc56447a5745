from rest_framework.routers import SimpleRouter

from tasks.api.views import BatchViewSet, LinkViewSet, RevocationViewSet

router = SimpleRouter()
router.register("batches", BatchViewSet, basename="batch")
router.register("links", LinkViewSet, basename="link")
router.register("revocations", RevocationViewSet, basename="revocation")

urlpatterns = router.urls
