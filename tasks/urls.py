from rest_framework.routers import SimpleRouter

from tasks.api.views import BatchViewSet

router = SimpleRouter()
router.register("batches", BatchViewSet, basename="batch")

urlpatterns = router.urls
