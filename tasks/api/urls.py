from rest_framework.routers import SimpleRouter

from tasks.api.views import BatchViewSet, LinkViewSet

router = SimpleRouter()
router.register("batches", BatchViewSet, basename="batch")
router.register("links", LinkViewSet, basename="link")

urlpatterns = router.urls
